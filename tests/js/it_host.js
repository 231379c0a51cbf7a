// tests/js/it_host.js — the web host APIs through the real binary
// (test_render_host.py): process.env from render.env, timers and
// MessageChannel while a render is pending, a broken promise chain.
var ticks = 0;
var cases = {
  "/env": function () {
    return JSON.stringify({ NODE_ENV: process.env.NODE_ENV, API_URL: process.env.API_URL,
                            PORT: process.env.PORT, keys: Object.keys(process.env).sort() });
  },
  "/timers": async function () {
    var log = [];
    var ch = new MessageChannel();
    var got = new Promise(function (r) { ch.port1.onmessage = function (ev) { log.push("msg " + ev.data); r(); }; });
    setTimeout(function () { log.push("t5"); }, 5);
    ch.port2.postMessage("hi");
    await got;
    await new Promise(function (r) { setTimeout(r, 10000); });  // virtual: no wait
    log.push("after 10 s");
    return "<p>" + log.join(", ") + "</p>";
  },
  "/long": function () {
    setTimeout(function () { ticks += 1000; }, 10000);
    return "<p>fast</p>";
  },
  "/never": function () {
    setInterval(function () { ticks++; }, 1);
    return new Promise(function () {});
  },
  "/ticks": function () { return "<p>" + ticks + "</p>"; },
  "/broken": function () {
    return new Promise(function (resolve) {
      setTimeout(function () { resolve(missingApi.render()); }, 0);
    });
  },
};
function render(req) {
  var c = cases[req.path];
  if (!c) throw new Error("no case " + req.path);
  return c(req);
}
