// tests/js/it_render.js — the bundle tests/integration/test_render.py serves:
// an IIFE, as esbuild would emit, defining globalThis.render; each request
// path is one case. The test finds the line of the "/throw" case by its text.
(function () {
  "use strict";
  var counter = 0; // globals persist across renders of one isolate
  var hoard = [];  // what /oom fills

  function spin(ms) {
    var end = Date.now() + ms;
    while (Date.now() < end) {}
  }
  function tick(v) {
    return new Promise(function (resolve) { queueMicrotask(function () { resolve(v); }); });
  }
  function one(v) { return Array.isArray(v) ? v[0] : v; }

  var cases = {
    "/string": function () { return "<!doctype html><p>hello, string</p>\n"; },
    "/object": function () {
      return { status: 201, headers: { "X-Custom": "yes", "Cache-Control": "max-age=5" },
               html: "<p>created</p>", ttl: 5, tags: ["t1"] };
    },
    "/object-type": function () {
      return { status: 200, headers: { "content-type": "application/json" }, html: "{\"a\":1}" };
    },
    "/smuggle": function () {
      // framing headers are the server's: these must not reach the client
      return { status: 200, html: "0123456789",
               headers: { "Content-Length": "3", "Transfer-Encoding": "chunked",
                          "Connection": "close", "X-Ok": "1" } };
    },
    "/date": function () {
      // Date and Server are the server's, as Content-Length is
      return { html: "dated", headers: { "Date": "Thu, 01 Jan 1970 00:00:00 GMT", "X-Ok": "1" } };
    },
    "/promise": function () { return Promise.resolve("<p>promised</p>"); },
    "/promise-object": function () {
      return tick({ status: 202, headers: { "x-kind": "promise" }, html: "<p>later</p>" });
    },
    "/async": async function (req) {
      var a = await tick(20);
      var b = await tick(22);
      await null;
      return "<p>async " + (a + b) + " " + req.method + "</p>";
    },
    "/echo": function (req, props) {
      return { status: 200, headers: { "content-type": "application/json" },
               html: JSON.stringify({ request: req, props: props }) };
    },
    "/throw": function () { throw new Error("kaboom <b>&\"x\"</b>"); },
    "/throw-string": function () { throw "a bare string thrown"; },
    "/reject": function () { return Promise.reject(new TypeError("rejected-marker")); },
    "/reject-async": async function () { await tick(1); throw new RangeError("late-marker"); },
    "/number": function () { return 42; },
    "/undefined": function () {},
    "/html-number": function () { return { status: 200, html: 7 }; },
    "/loop": function () { for (;;) {} },
    "/async-loop": async function () { await null; for (;;) {} },
    "/oom": function () {
      for (;;) hoard.push(new Array(10000).fill({ x: hoard.length }));
    },
    "/slow": function (req) {
      var ms = Number(one(req.query.ms) || 300);
      spin(ms);
      return "<p>slow " + req.url + "</p>";
    },
    "/count": function () { counter++; return String(counter); },
    "/console-throw": function (req) {
      console.log("console-marker", one(req.query.n));
      throw new Error("after-console " + one(req.query.n));
    },
    "/console": function (req) {
      console.log("console-marker", one(req.query.n));
      console.warn("warn-marker", one(req.query.n));
      return "<p>logged</p>";
    },
    "/utf8": function () {
      // Cyrillic, an emoji outside the BMP (a surrogate pair in JS), CJK,
      // a combining accent; the test compares the UTF-8 bytes.
      return "<p>Привет, мир! \ud83d\ude80 \u2603 日本語 e\u0301 ё</p>";
    },
    "/utf8-big": function () {
      var s = [];
      for (var i = 0; i < 2000; i++) s.push("Строка " + i + " \ud83c\udf89;");
      return s.join("");
    },
    "/lone-surrogate": function () { return "a\ud800b"; },
  };

  globalThis.render = function (req, props) {
    var c = cases[req.path];
    if (c) return c(req, props);
    if (req.path.indexOf("/echo/") === 0) return cases["/echo"](req, props);
    if (req.path.indexOf("/u/") === 0) {
      // /u/*: the concurrency test; the page names its own URL, and the log
      // line ties the URL to the request id (whose top bits name the loop).
      console.log("u-marker", req.url);
      return "<p>url=" + req.url + " path=" + req.path + " q=" + one(req.query.i) + "</p>";
    }
    return { status: 404, html: "<p>no case " + req.path + "</p>" };
  };
})();
