// tests/js/prelude_streams.js: WHATWG streams from inside an isolate. The
// render resolves to "ok" or the list of failed checks.
(function () {
  const fails = [];
  const eq = (a, b, what) => {
    const x = JSON.stringify(a), y = JSON.stringify(b);
    if (x !== y) fails.push(what + ': got ' + x + ', want ' + y);
  };
  const tick = () => new Promise((r) => queueMicrotask(r));
  const ticks = async (n) => { for (let i = 0; i < n; i++) await tick(); };
  async function readAll(stream) {
    const out = [];
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return out;
      out.push(value);
    }
  }

  const cases = {
    async readToEnd() {
      let pulls = 0;
      const rs = new ReadableStream({
        start(c) { c.enqueue('a'); c.enqueue('b'); },
        pull(c) { pulls++; if (pulls === 3) c.close(); else c.enqueue('p' + pulls); },
      });
      eq(await readAll(rs), ['a', 'b', 'p1', 'p2'], 'chunks');
      eq(rs.locked, true, 'locked after getReader');
    },
    async erroredMidway() {
      const boom = new Error('boom');
      let n = 0;
      const rs = new ReadableStream({
        pull(c) { n++; if (n === 3) throw boom; c.enqueue(n); },
      });
      const reader = rs.getReader();
      eq((await reader.read()).value, 1, 'first');
      eq((await reader.read()).value, 2, 'second');
      let caught = null;
      try { await reader.read(); } catch (e) { caught = e; }
      eq(caught === boom, true, 'read rejects with the error');
      let closedErr = null;
      await reader.closed.catch((e) => { closedErr = e; });
      eq(closedErr === boom, true, 'closed rejects with the error');
      let again = null;
      try { await reader.read(); } catch (e) { again = e; }
      eq(again === boom, true, 'later reads reject too');
    },
    async controllerError() {
      let ctrl;
      const rs = new ReadableStream({ start(c) { ctrl = c; } });
      const reader = rs.getReader();
      const p = reader.read();
      ctrl.enqueue('x');
      eq(await p, { value: 'x', done: false }, 'pending read fulfilled by enqueue');
      ctrl.error(new TypeError('bad'));
      let name = null;
      try { await reader.read(); } catch (e) { name = e.name; }
      eq(name, 'TypeError', 'errored');
      eq(ctrl.desiredSize, null, 'desiredSize of errored');
    },
    async cancel() {
      let reason = null;
      const rs = new ReadableStream({ start(c) { c.enqueue(1); }, cancel(r) { reason = r; } });
      await rs.cancel('why');
      eq(reason, 'why', 'cancel reason');
      const r = rs.getReader();
      eq(await r.read(), { value: undefined, done: true }, 'canceled stream reads done');
    },
    async backpressureDesiredSize() {
      let ctrl;
      const rs = new ReadableStream({ start(c) { ctrl = c; } }, new CountQueuingStrategy({ highWaterMark: 2 }));
      eq(ctrl.desiredSize, 2, 'initial');
      ctrl.enqueue('a'); ctrl.enqueue('b'); ctrl.enqueue('c');
      eq(ctrl.desiredSize, -1, 'after three');
      const bs = new ReadableStream({ start(c) { ctrl = c; } }, new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
      ctrl.enqueue(new Uint8Array(4));
      eq(ctrl.desiredSize, 6, 'byte length strategy');
      eq(bs.locked, false, 'not locked');
    },
    async tee() {
      const rs = new ReadableStream({
        start(c) { c.enqueue('x'); c.enqueue('y'); c.close(); },
      });
      const [a, b] = rs.tee();
      const [ra, rb] = await Promise.all([readAll(a), readAll(b)]);
      eq(ra, ['x', 'y'], 'branch 1');
      eq(rb, ['x', 'y'], 'branch 2');
      // Cancel both branches: the source is canceled with both reasons.
      let reason = null;
      const src = new ReadableStream({ cancel(r) { reason = r; } });
      const [c1, c2] = src.tee();
      const p1 = c1.cancel('r1');
      await tick();
      const p2 = c2.cancel('r2');
      await Promise.all([p1, p2]);
      eq(reason, ['r1', 'r2'], 'composite cancel reason');
      // An error reaches both branches.
      let ctrl;
      const es = new ReadableStream({ start(c) { ctrl = c; } });
      const [e1, e2] = es.tee();
      ctrl.error(new RangeError('x'));
      const names = await Promise.all([e1.getReader().read().catch((e) => e.name), e2.getReader().read().catch((e) => e.name)]);
      eq(names, ['RangeError', 'RangeError'], 'error in both branches');
    },
    async byteStreamTee() {
      let n = 0;
      const rs = new ReadableStream({
        type: 'bytes',
        pull(c) {
          n++;
          if (n > 3) { c.close(); if (c.byobRequest) c.byobRequest.respond(0); return; }
          const req = c.byobRequest;
          if (req) { req.view[0] = n; req.respond(1); } else c.enqueue(new Uint8Array([n, n]));
        },
      });
      const [a, b] = rs.tee();
      // One branch read with a BYOB reader (branches of a byte stream are
      // byte streams), the other with a default reader.
      const ra = a.getReader({ mode: 'byob' });
      const gotA = [];
      const gotB = [];
      const rb = b.getReader();
      for (;;) {
        const x = await ra.read(new Uint8Array(4));
        if (x.done) break;
        gotA.push(Array.from(x.value));
      }
      for (;;) {
        const y = await rb.read();
        if (y.done) break;
        gotB.push(Array.from(y.value));
      }
      eq([gotA, gotB], [[[1], [2], [3]], [[1], [2], [3]]], 'byte tee branches');
      const [c1, c2] = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([9])); c.close(); } }).tee();
      const v1 = (await c1.getReader().read()).value, v2 = (await c2.getReader().read()).value;
      eq([Array.from(v1), Array.from(v2), v1.buffer !== v2.buffer], [[9], [9], true], 'second branch gets a copy');
    },
    async pipeToBackpressure() {
      const log = [];
      let produced = 0;
      const rs = new ReadableStream({
        pull(c) { produced++; log.push('pull' + produced); if (produced > 5) c.close(); else c.enqueue(produced); },
      }, { highWaterMark: 0 });
      const written = [];
      let release;
      const ws = new WritableStream({
        write(chunk) {
          written.push(chunk);
          log.push('write' + chunk);
          if (chunk === 2) return new Promise((r) => { release = r; });
        },
      }, { highWaterMark: 1 });
      const done = rs.pipeTo(ws);
      await ticks(50);
      // The sink is stuck on chunk 2: the pipe stops reading once the
      // writable's queue is full.
      eq(written, [1, 2], 'written while blocked');
      eq(produced <= 4, true, 'source not drained while blocked (produced ' + produced + ')');
      release();
      await done;
      eq(written, [1, 2, 3, 4, 5], 'all written');
      eq(ws.locked, false, 'writer released');
    },
    async pipeToErrors() {
      // A source error aborts the destination.
      let abortReason = null;
      const ws = new WritableStream({ abort(r) { abortReason = r; } });
      const boom = new Error('src');
      const rs = new ReadableStream({ start(c) { c.error(boom); } });
      let got = null;
      await rs.pipeTo(ws).catch((e) => { got = e; });
      eq(got === boom && abortReason === boom, true, 'source error aborts destination');
      // A sink error cancels the source.
      let cancelReason = null;
      const sinkErr = new Error('sink');
      const rs2 = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { cancelReason = r; } });
      const ws2 = new WritableStream({ write() { throw sinkErr; } });
      let got2 = null;
      await rs2.pipeTo(ws2).catch((e) => { got2 = e; });
      eq(got2 === sinkErr && cancelReason === sinkErr, true, 'sink error cancels source');
      // preventClose keeps the destination open.
      const rs3 = new ReadableStream({ start(c) { c.enqueue('a'); c.close(); } });
      let closed = false;
      const ws3 = new WritableStream({ close() { closed = true; } });
      await rs3.pipeTo(ws3, { preventClose: true });
      eq(closed, false, 'preventClose');
    },
    async pipeToSignal() {
      const ac = new AbortController();
      let cancelReason = null;
      const rs = new ReadableStream({ pull(c) { return tick().then(() => c.enqueue('x')); }, cancel(r) { cancelReason = r; } });
      let abortReason = null;
      const ws = new WritableStream({ abort(r) { abortReason = r; } });
      const p = rs.pipeTo(ws, { signal: ac.signal });
      await ticks(5);
      ac.abort();
      let err = null;
      await p.catch((e) => { err = e; });
      eq(err && err.name, 'AbortError', 'pipe rejects with the abort reason');
      eq(cancelReason && cancelReason.name, 'AbortError', 'source canceled');
      eq(abortReason && abortReason.name, 'AbortError', 'destination aborted');
    },
    async pipeThroughTransform() {
      const upper = new TransformStream({
        transform(chunk, c) { c.enqueue(String(chunk).toUpperCase()); },
        flush(c) { c.enqueue('!'); },
      });
      const rs = ReadableStream.from(['a', 'b']);
      eq(await readAll(rs.pipeThrough(upper)), ['A', 'B', '!'], 'transformed');
      const id = new TransformStream();
      const w = id.writable.getWriter();
      w.write(1); w.write(2); w.close();
      eq(await readAll(id.readable), [1, 2], 'identity transform');
    },
    async writableStream() {
      const log = [];
      const ws = new WritableStream({
        start() { log.push('start'); },
        write(chunk, c) { log.push('write:' + chunk); },
        close() { log.push('close'); },
      }, new CountQueuingStrategy({ highWaterMark: 2 }));
      const w = ws.getWriter();
      eq(w.desiredSize, 2, 'desiredSize');
      await w.ready;
      const p1 = w.write('a');
      const p2 = w.write('b');
      eq(w.desiredSize, 0, 'desiredSize after two writes');
      await Promise.all([p1, p2, w.close()]);
      eq(log, ['start', 'write:a', 'write:b', 'close'], 'order');
      await w.closed;
      let err = null;
      await w.write('c').catch((e) => { err = e.name; });
      eq(err, 'TypeError', 'write after close');
      // abort
      let reason = null;
      const ws2 = new WritableStream({ abort(r) { reason = r; } });
      await ws2.abort('stop');
      eq(reason, 'stop', 'abort reason');
      const w2 = ws2.getWriter();
      let err2 = null;
      await w2.closed.catch((e) => { err2 = e; });
      eq(err2, 'stop', 'closed rejects with the abort reason');
    },
    async asyncIteration() {
      const rs = ReadableStream.from((async function* () { yield 1; yield 2; yield 3; })());
      const out = [];
      for await (const v of rs) out.push(v);
      eq(out, [1, 2, 3], 'for await');
      let canceled = false;
      const rs2 = new ReadableStream({ pull(c) { c.enqueue('x'); }, cancel() { canceled = true; } });
      for await (const v of rs2) { if (v) break; }
      eq(canceled, true, 'break cancels');
      const rs3 = new ReadableStream({ pull(c) { c.enqueue('x'); }, cancel() { canceled = 'no'; } });
      for await (const v of rs3.values({ preventCancel: true })) { if (v) break; }
      eq(rs3.locked, false, 'preventCancel releases the lock');
      eq(canceled, true, 'preventCancel does not cancel');
    },
    async byteStreamDefaultReader() {
      const rs = new ReadableStream({
        type: 'bytes',
        start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); },
      });
      const chunks = await readAll(rs);
      eq(chunks.map((c) => Array.from(c)), [[1, 2, 3]], 'bytes via default reader');
      eq(chunks[0] instanceof Uint8Array, true, 'Uint8Array chunk');
    },
    async byteStreamBYOB() {
      let n = 0;
      const rs = new ReadableStream({
        type: 'bytes',
        pull(c) {
          const req = c.byobRequest;
          if (n >= 3) { c.close(); if (req) req.respond(0); return; }
          if (req) {
            req.view[0] = 10 + n; req.view[1] = 20 + n;
            req.respond(2);
          } else c.enqueue(new Uint8Array([10 + n, 20 + n]));
          n++;
        },
      });
      const reader = rs.getReader({ mode: 'byob' });
      const got = [];
      for (;;) {
        const { value, done } = await reader.read(new Uint8Array(8));
        if (done) { eq(value instanceof Uint8Array && value.byteLength === 0, true, 'done gives an empty view'); break; }
        got.push(Array.from(value));
      }
      eq(got, [[10, 20], [11, 21], [12, 22]], 'byob reads');
      // enqueue more than the view holds: the rest stays queued.
      const rs2 = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 2, 3, 4, 5])); c.close(); } });
      const r2 = rs2.getReader({ mode: 'byob' });
      eq(Array.from((await r2.read(new Uint8Array(2))).value), [1, 2], 'partial 1');
      eq(Array.from((await r2.read(new Uint8Array(2))).value), [3, 4], 'partial 2');
      eq(Array.from((await r2.read(new Uint8Array(2))).value), [5], 'partial 3');
      eq((await r2.read(new Uint8Array(2))).done, true, 'done');
      // Uint16Array view with min
      const rs3 = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 0])); c.enqueue(new Uint8Array([2, 0, 3, 0])); } });
      const r3 = rs3.getReader({ mode: 'byob' });
      const v3 = (await r3.read(new Uint16Array(3), { min: 3 })).value;
      eq([v3.constructor.name, Array.from(v3)], ['Uint16Array', [1, 2, 3]], 'min fill');
      // autoAllocateChunkSize lets a default reader get a byobRequest
      let sawReq = false;
      const rs4 = new ReadableStream({
        type: 'bytes', autoAllocateChunkSize: 4,
        pull(c) { sawReq = !!c.byobRequest; c.byobRequest.view[0] = 7; c.byobRequest.respond(1); c.close(); },
      });
      const v4 = await rs4.getReader().read();
      eq([sawReq, Array.from(v4.value)], [true, [7]], 'autoAllocateChunkSize');
      let threw = null;
      try { new ReadableStream().getReader({ mode: 'byob' }); } catch (e) { threw = e.name; }
      eq(threw, 'TypeError', 'byob reader on a default stream');
    },
    async textDecoderStreamSplit() {
      // U+20AC (3 bytes) and U+1F600 (4 bytes) split across chunks.
      const bytes = [[0x61, 0xe2], [0x82], [0xac, 0xf0, 0x9f], [0x98], [0x80, 0x62], [0xe2]];
      const rs = ReadableStream.from(bytes.map((b) => new Uint8Array(b)));
      const out = await readAll(rs.pipeThrough(new TextDecoderStream()));
      eq(out.join(''), 'a\u20ac\ud83d\ude00b\ufffd', 'decoded with a trailing partial sequence');
      const fatal = new TextDecoderStream('utf-8', { fatal: true });
      eq([fatal.encoding, fatal.fatal, fatal.ignoreBOM], ['utf-8', true, false], 'attributes');
      const w = fatal.writable.getWriter();
      w.write(new Uint8Array([0xff])).catch(() => {});
      let name = null;
      await fatal.readable.getReader().read().catch((e) => { name = e.name; });
      eq(name, 'TypeError', 'fatal decoder errors the stream');
    },
    async textEncoderStream() {
      const rs = ReadableStream.from(['a', '\ud83d', '\ude00', '\u00e9', '\ud800']);
      const out = await readAll(rs.pipeThrough(new TextEncoderStream()));
      const all = [];
      for (const c of out) all.push(...c);
      eq(all, [0x61, 0xf0, 0x9f, 0x98, 0x80, 0xc3, 0xa9, 0xef, 0xbf, 0xbd], 'surrogate pair across chunks');
    },
    async readerRelease() {
      const rs = new ReadableStream();
      const r = rs.getReader();
      const p = r.read();
      r.releaseLock();
      let name = null;
      await p.catch((e) => { name = e.name; });
      eq(name, 'TypeError', 'pending read rejects on release');
      eq(rs.locked, false, 'unlocked');
      let threw = false;
      try { rs.getReader(); rs.getReader(); } catch (e) { threw = true; }
      eq(threw, true, 'second reader throws');
    },
    async globalsReplacedByTheBundle() {
      // The prelude keeps the engine's Promise and queueMicrotask: a bundle
      // replacing them does not break the streams.
      const saved = [globalThis.Promise, globalThis.queueMicrotask];
      globalThis.Promise = function FakePromise() { throw new Error('replaced Promise used'); };
      globalThis.queueMicrotask = () => { throw new Error('replaced queueMicrotask used'); };
      try {
        const [a, b] = new ReadableStream({ start(c) { c.enqueue('x'); c.close(); } }).tee();
        eq([await readAll(a), await readAll(b)], [['x'], ['x']], 'tee with replaced globals');
      } finally {
        [globalThis.Promise, globalThis.queueMicrotask] = saved;
      }
    },
    async reactLikeStreaming() {
      // What react-dom/server.browser's renderToReadableStream does: a byte
      // stream with a pull that enqueues encoded chunks, read to a string.
      const enc = new TextEncoder();
      const parts = ['<div>', 'hello', '</div>'];
      let i = 0;
      const rs = new ReadableStream({
        type: 'bytes',
        pull(c) {
          if (i < parts.length) c.enqueue(enc.encode(parts[i++]));
          else c.close();
        },
      }, { highWaterMark: 0 });
      let html = '';
      const dec = new TextDecoder();
      for await (const chunk of rs) html += dec.decode(chunk, { stream: true });
      eq(html, '<div>hello</div>', 'streamed html');
    },
  };

  globalThis.render = async function () {
    for (const name of Object.keys(cases)) {
      try { await cases[name](); } catch (e) { fails.push(name + ': threw ' + (e && e.stack || e)); }
    }
    return fails.length ? fails.join('\n') : 'ok';
  };
})();
