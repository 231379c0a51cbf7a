// tests/js/prelude_globals.js: the prelude's globals look like a browser's
// (writable, configurable, not enumerable), no helper leaks onto globalThis.
globalThis.render = function (req) {
  const fails = [];
  const check = (c, what) => { if (!c) fails.push(what); };
  if (req.path === '/lazy') {
    // On a fresh engine: URL, the streams and the encoding streams are lazy
    // globals, which behave as data properties before their first use too.
    globalThis.TextEncoderStream = 1;
    check(TextEncoderStream === 1, 'assign a lazy global');
    check(delete globalThis.TextDecoderStream && !('TextDecoderStream' in globalThis), 'delete a lazy global');
    const d = Object.getOwnPropertyDescriptor(globalThis, 'ReadableStream');
    check(d && typeof d.value === 'function' && d.writable && !d.enumerable && d.configurable, 'lazy descriptor');
    const { URL: U, ReadableStream: R } = globalThis;
    check(U === URL && R === ReadableStream && URL === globalThis.URL, 'a lazy global keeps its identity');
    check(new URLSearchParams('a=1').get('a') === '1', 'a lazy global works');
    return fails.length ? fails.join('\n') : 'ok';
  }
  const names = ['URL', 'URLSearchParams', 'atob', 'btoa', 'Event', 'EventTarget',
    'AbortController', 'AbortSignal', 'DOMException', 'ReadableStream', 'WritableStream',
    'TransformStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader',
    'ReadableByteStreamController', 'ReadableStreamDefaultController', 'ReadableStreamBYOBRequest',
    'WritableStreamDefaultWriter', 'WritableStreamDefaultController',
    'TransformStreamDefaultController', 'CountQueuingStrategy', 'ByteLengthQueuingStrategy',
    'TextEncoderStream', 'TextDecoderStream'];
  for (const n of names) {
    const d = Object.getOwnPropertyDescriptor(globalThis, n);
    check(d, n + ' missing');
    if (!d) continue;
    check(d.writable === true && d.configurable === true && d.enumerable === false, n + ' descriptor');
    check(typeof d.value === 'function', n + ' not a function');
    if (typeof d.value === 'function' && d.value.prototype && /^[A-Z]/.test(n))
      check(Object.prototype.toString.call(Object.create(d.value.prototype)) === '[object ' + n + ']' ||
            n === 'DOMException', n + ' toStringTag');
  }
  check(Object.keys(globalThis).filter((k) => k !== 'render').length === 0,
        'enumerable globals: ' + Object.keys(globalThis).join(','));
  for (const leak of ['$', 'B64', 'Event_', 'codes', 'legacy', 'toLength', 'percentEncode'])
    check(!(leak in globalThis), 'leaked ' + leak);
  check(typeof require === 'undefined' && typeof Buffer === 'undefined' &&
        typeof process === 'undefined' || typeof process === 'object', 'node globals');
  check(URL.name === 'URL' && URL.length === 1, 'URL name/length');
  check(Object.getOwnPropertyDescriptor(URL.prototype, 'href').enumerable === true, 'URL.prototype.href enumerable (WebIDL)');
  return fails.length ? fails.join('\n') : 'ok';
};
