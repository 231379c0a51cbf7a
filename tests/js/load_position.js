// tests/js/load_position.js — a top-level error inside a function: its
// place is line 4, column 24, and the stack names both frames.
function init() {
  var x = undefined; x.field.more = 1;
}
init();
