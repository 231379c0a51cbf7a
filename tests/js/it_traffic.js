// tests/js/it_traffic.js — a bundle for tests/integration/test_traffic.py
// (real traffic: named cookies, deploys, downstream caching headers, error
// pages). One isolate (render.threads = 1): the counter tells renders apart.
//   /count          how many pages this bundle rendered (a route not cached)
//   ?status=N       answer with that status
//   ?cc=V           the bundle's own Cache-Control
//   ?hdr=1          an X-Frame-Options header (canonical name on the wire)
//   ?throw=1        throw (a 500)
//   .../missing/... a real 404 from the bundle
//   /broken-error-page  throws (an error page whose render fails)
(function () {
  "use strict";
  var VERSION = "v1";
  var renders = 0;
  function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
  globalThis.render = function (request, props) {
    if (request.path === "/count") return "<p id=count>" + renders + "</p>";
    renders++;
    var q = request.query;
    if (q.throw || request.path === "/broken-error-page") throw new Error("boom");
    var out = {
      status: 200, headers: {},
      html: "<!doctype html><html><body><h1>" + esc(request.path) + "</h1><p id=n>" + renders +
            "</p><p id=v>" + VERSION + "</p><p id=cookie>" + esc(request.headers.cookie || "") +
            "</p><p id=props>" + esc(JSON.stringify(props || {})) + "</p></body></html>",
    };
    if (request.path.indexOf("/missing/") >= 0 || request.path === "/404") out.status = 404;
    if (q.status) out.status = parseInt(q.status, 10);
    if (q.cc) out.headers["cache-control"] = q.cc;
    if (q.hdr) out.headers["x-frame-options"] = "DENY";
    return out;
  };
})();
