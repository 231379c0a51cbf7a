// tests/js/mapped.js — a "bundle" with a hand-written source map beside it
(function () {
  globalThis.render = function () { return "x"; };
  throw new Error("mapped failure");
})();
//# sourceMappingURL=mapped.js.map
