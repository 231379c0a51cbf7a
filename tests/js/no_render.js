// tests/js/no_render.js — loads fine but defines no global render().
var renderer = function () { return "x"; };
