// tests/js/mapped_render.js — loads fine; render throws at line 4, mapped
// by mapped_render.js.map to src/page.tsx:7:3.
function render() {
  throw new TypeError("render failure");
}
//# sourceMappingURL=mapped_render.js.map
