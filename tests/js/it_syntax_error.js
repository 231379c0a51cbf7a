// tests/js/it_syntax_error.js — a syntax error on line 4 (test_render.py).
function render(req) {
  var a = 1;
  var b = = 2;
  return "x";
}
