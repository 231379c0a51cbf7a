// shim/js/20_modules.js: the lazy globals and the module (shim/js/lazy/*.js)
// that provides each; see $.lazyModule in 00_internal.js. A module runs on
// the first use of one of its globals, or when another module loads it.

// DOMException is provided only when the engine has none.
$.nativeDOMException = typeof globalThis.DOMException === 'function' ? globalThis.DOMException : null;
$.loadDOMException = $.lazyModule('domexception',
  $.nativeDOMException ? ['atob', 'btoa'] : ['DOMException', 'atob', 'btoa']);
$.loadEvents = $.lazyModule('events', ['Event', 'EventTarget', 'AbortController', 'AbortSignal']);
$.loadURL = $.lazyModule('url', ['URL', 'URLSearchParams']);
$.loadStreams = $.lazyModule('streams', ['ReadableStream', 'ReadableStreamDefaultReader',
  'ReadableStreamBYOBReader', 'ReadableStreamDefaultController', 'ReadableByteStreamController',
  'ReadableStreamBYOBRequest', 'WritableStream', 'WritableStreamDefaultWriter',
  'WritableStreamDefaultController', 'TransformStream', 'TransformStreamDefaultController',
  'ByteLengthQueuingStrategy', 'CountQueuingStrategy']);
$.lazyModule('encoding_streams', ['TextEncoderStream', 'TextDecoderStream']);
