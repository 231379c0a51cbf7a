// tests/js/esbuild_require.js — esbuild's require shim, as a bundle built
// for the browser with a Node dependency left in gets it: the throw is in
// the shim (line 6), the place to look at is the caller (line 8).
var __require = ((x) => typeof require !== "undefined" ? require : x)(function (x) {
  if (typeof require !== "undefined") return require.apply(this, arguments);
  throw Error('Dynamic require of "' + x + '" is not supported');
});
var fs = __require("fs");
function render() { return "x"; }
