// tests/js/it_hooks.js — echoes what the Lua hooks gave the bundle.
var n = 0;
globalThis.render = function (request, props) {
  n++;
  return "<html><body><pre id=props>" + JSON.stringify(props) + "</pre><p id=n>" + n +
         "</p><p id=path>" + request.path + "</p><pre id=params>" + JSON.stringify(request.params) +
         "</pre></body></html>";
};
