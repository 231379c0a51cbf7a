// tests/js/it_top_throw.js — the top level throws on line 4 (test_render.py).
function render() { return "x"; }
var config = {};
throw new Error("top-level-marker " + typeof config);
