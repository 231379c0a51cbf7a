// tests/js/it_no_render.js — loads fine, defines no global `render`
// (test_render.py expects the start to fail naming the function).
var notRender = function () { return "x"; };
