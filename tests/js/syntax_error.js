// tests/js/syntax_error.js — a bundle that does not parse (line 3).
function render() {
  return "x"; }}
