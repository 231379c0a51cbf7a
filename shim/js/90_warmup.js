// shim/js/90_warmup.js: what the shim runs once per process, in a scratch
// context, before it makes the prelude's code caches: every module loaded
// and its common paths run, so that their functions are compiled and go
// into the caches (a function V8 never ran has no bytecode to cache, and
// would be compiled from source by every isolate at its first use). The scratch context has
// only TextEncoder, TextDecoder and queueMicrotask of the shim's C++
// globals.
$.warmup = function () {
  const u = new URL('https://user:pw@example.com:8080/a/../b/./c?d=e+f&g#h', 'http://base.test/x');
  u.searchParams.append('k', 'v w');
  u.searchParams.sort();
  u.pathname = '/p q';
  u.search = '?q=1';
  u.hash = 'top';
  u.host = 'example.org:81';
  u.protocol = 'http';
  String(u) + u.origin + u.hostname + u.port + JSON.stringify(u);
  for (const s of ['http://[::1]:8080/', 'http://0x7f.1/', 'http://\u00e9x.com/', 'file:///C:/x',
                   'foo:bar', 'blob:https://a.b/c', '//x/y', '../z?x#y'])
    URL.canParse(s, 'https://a.b/c/d');
  const p = new URLSearchParams({ a: '1' });
  p.set('b', '2'); p.get('a'); p.getAll('b'); p.has('c'); p.delete('a');
  [...p.entries()];
  atob(btoa('warm'));
  const et = new EventTarget();
  et.addEventListener('x', () => {}, { once: true });
  et.dispatchEvent(new Event('x'));
  const ac = new AbortController();
  AbortSignal.any([ac.signal]);
  ac.abort();
  [3, 1].toSorted(); [1].toReversed(); [1].with(0, 2); [1].toSpliced(0, 1);
  const rs = new ReadableStream({
    start(c) { c.enqueue('a'); },
    pull(c) { c.close(); },
  });
  const [r1, r2] = rs.tee();
  r1.pipeThrough(new TransformStream({ transform(ch, c) { c.enqueue(ch); } }))
    .pipeThrough(new TextEncoderStream())
    .pipeThrough(new TextDecoderStream())
    .pipeTo(new WritableStream({ write() {} }));
  (async () => { for await (const x of r2) void x; })();
  const bs = new ReadableStream({
    type: 'bytes',
    pull(c) {
      if (c.byobRequest) { c.byobRequest.view[0] = 1; c.byobRequest.respond(1); } else c.enqueue(new Uint8Array([98]));
      c.close();
    },
  });
  bs.getReader({ mode: 'byob' }).read(new Uint8Array(4));
  new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([120])); c.close(); } }).getReader().read();
  ReadableStream.from(['x']).getReader().read();
  new CountQueuingStrategy({ highWaterMark: 1 });
  new ByteLengthQueuingStrategy({ highWaterMark: 1 });
};
