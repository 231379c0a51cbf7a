// shim/js/00_internal.js: helpers shared by the prelude's files, on `$`.
// The prelude runs in one strict-mode function (see embed.cmake); nothing
// here reaches globalThis.

// Gives a class's prototype the Symbol.toStringTag WebIDL interfaces have
// ("[object URL]").
$.tag = function (cls, name) {
  Object.defineProperty(cls.prototype, Symbol.toStringTag, {
    value: name || cls.name, writable: false, enumerable: false, configurable: true,
  });
};

// Installs methods on a prototype as built-ins are: writable, configurable,
// not enumerable; name and length from the function itself.
$.defineMethods = function (target, methods) {
  for (const key of Reflect.ownKeys(methods)) {
    const d = Object.getOwnPropertyDescriptor(methods, key);
    if (Object.prototype.hasOwnProperty.call(target, key)) continue;
    Object.defineProperty(target, key, {
      value: d.value, writable: true, enumerable: false, configurable: true,
    });
  }
};

// A promise with its resolve and reject functions, and whether it settled.
$.deferred = function () {
  const d = { promise: null, resolve: null, reject: null, settled: false };
  d.promise = new Promise((res, rej) => {
    d.resolve = (v) => { d.settled = true; res(v); };
    d.reject = (e) => { d.settled = true; rej(e); };
  });
  return d;
};
$.isObject = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';

// Lazy globals: $.lazyModule(module, names) registers globals provided by
// shim/js/lazy/<module>.js, a script of its own that the shim compiles (from
// its own code cache) and runs on the first access of any of them: the
// module's body, run with `$` and the engine's globals, returns its exports.
// The prelude returns the registry (name -> function giving the value) to
// the shim, which defines each as a V8 lazy data property: to JS it is an
// ordinary data property (writable, configurable, not enumerable, a plain
// value for getOwnPropertyDescriptor), materialized on first use, so a
// render that never touches URL or streams never compiles nor runs their
// code. Returns a function that loads the module (for the other modules).
$.lazy = Object.create(null);
$.lazyModule = function (module, names) {
  let exports = null;
  const load = () => exports || (exports = loadModule(module)($, globalThis));
  for (const n of names) $.lazy[n] = () => load()[n];
  return load;
};
