// tests/js/it_cache.js — a bundle for the page-cache integration tests.
// One isolate (render.threads = 1) keeps the globals below deterministic.
var renders = 0;        // every call to render
var failing = false;    // set through /control?fail=1 (sent with a Cookie: bypasses the cache)
var counts = {};        // renders per /refail path
var padding = "";
for (var i = 0; i < 200; i++) padding += "<li>каталог товар " + i + " — цена и скидка</li>";

function page(request, extra) {
  return "<!doctype html><html><body><h1>" + request.path + "</h1><p id=n>" + renders +
         "</p>" + (extra || "") + "<ul>" + padding + "</ul></body></html>";
}

function busy(ms) {
  var end = Date.now() + ms;
  while (Date.now() < end) {}
}

globalThis.render = function (request) {
  renders++;
  var p = request.path;
  if (p === "/control") {
    failing = request.query.fail === "1";
    return "failing=" + failing;
  }
  if (failing && p.indexOf("/flaky") === 0) throw new Error("backend down");
  if (p.indexOf("/slow") === 0) { busy(Number(request.query.ms) || 300); return page(request); }   // ?ms=N: N ms
  if (p.indexOf("/refail") === 0) {      // its second render (a refresh) fails, after 1.5 s
    var n = counts[p] = (counts[p] || 0) + 1;
    if (n === 2) { busy(1500); throw new Error("refresh failed"); }
    return page(request, "<p>render " + n + "</p>");
  }
  if (p === "/cookie") return { status: 200, headers: { "set-cookie": "sid=1" }, html: page(request) };
  if (p === "/private") return { status: 200, headers: { "cache-control": "private, max-age=60" }, html: page(request) };
  if (p === "/nostore") return { status: 200, headers: { "cache-control": "no-store" }, html: page(request) };
  if (p === "/ttl1") return { html: page(request), ttl: 1 };
  if (p.indexOf("/tagged") === 0) return { html: page(request), tags: ["product-" + (request.query.id || "0"), "all-products"] };
  if (p === "/tiny") return "ok " + renders;
  if (p === "/teapot") return { status: 418, html: page(request) };
  if (p === "/gone") return { status: 404, html: page(request) };
  return page(request, "<p>q=" + JSON.stringify(request.query) + "</p>");
};
