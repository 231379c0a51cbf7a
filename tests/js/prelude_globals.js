// tests/js/prelude_globals.js: the prelude's globals look like a browser's
// (writable, configurable, not enumerable), no helper leaks onto globalThis.
globalThis.render = function () {
  const fails = [];
  const check = (c, what) => { if (!c) fails.push(what); };
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
