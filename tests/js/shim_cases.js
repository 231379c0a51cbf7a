// tests/js/shim_cases.js — the bundle test_shim_v8.c renders: an IIFE, as
// esbuild would emit, defining render(); each request path is one case.
(function () {
  "use strict";
  var counter = 0; // globals persist across renders of one isolate
  var hoard = [];  // what /oom fills

  function step(n) {
    return new Promise(function (resolve) { queueMicrotask(function () { resolve(n); }); });
  }
  function hex(u8) {
    var s = "";
    for (var i = 0; i < u8.length; i++) s += (u8[i] < 16 ? "0" : "") + u8[i].toString(16);
    return s;
  }
  function check(cond, what) { if (!cond) throw new Error("check failed: " + what); }

  var cases = {
    "/string": function () { return "<p>hello</p>"; },
    "/object": function () {
      return {
        status: 201,
        headers: { "X-Test": "yes", "Set-Cookie": ["a=1", "b=2"], "X-Num": 5 },
        html: "<i>o</i>",
        ttl: 60,
        tags: ["product:1", "home"],
      };
    },
    "/object-min": function () { return { html: "min" }; },
    "/promise": function () { return Promise.resolve("<p>promised</p>"); },
    "/async": async function () {
      var a = await step(20);
      var b = await step(22);
      await null;
      return { status: 202, html: "<p>" + (a + b) + "</p>" };
    },
    "/throw": function () { throw new Error("boom from render"); },
    "/throw-string": function () { throw "a bare string"; },
    "/reject": function () { return Promise.reject(new TypeError("rejected here")); },
    "/reject-async": async function () { await step(1); throw new RangeError("late failure"); },
    "/number": function () { return 42; },
    "/undefined": function () {},
    "/html-not-string": function () { return { status: 200, html: 7 }; },
    "/bad-status": function () { return { status: "200", html: "x" }; },
    "/bad-header": function () { return { html: "x", headers: { "x-evil": "a\r\nSet-Cookie: b" } }; },
    "/bad-header-name": function () { return { html: "x", headers: { "x y": "z" } }; },
    "/bad-tags": function () { return { html: "x", tags: "t" }; },
    "/never": function () { return new Promise(function () {}); },
    "/loop": function () { for (;;) {} },
    "/async-loop": async function () { await null; for (;;) {} },
    "/deep": function () { function f(n) { return f(n + 1) + 1; } return f(0); },
    "/oom": function () {
      for (;;) hoard.push(new Array(10000).fill({ x: Math.random() }));
    },
    "/count": function () { counter++; return String(counter); },
    "/console": function (req) {
      console.log("hello", req.headers["x-n"], { a: [1, "b"] });
      console.warn("careful");
      console.error(new Error("logged error"));
      console.debug("dbg");
      console.info("info", 1.5, true, null, undefined);
      return "ok";
    },
    "/microtask-throw": function () {
      queueMicrotask(function () { throw new Error("thrown in a microtask"); });
      return "ok";
    },
    "/unhandled": function () {
      Promise.reject(new Error("nobody listens"));
      var late = Promise.reject(new Error("handled later"));
      queueMicrotask(function () { late.catch(function () {}); });
      Promise.reject(new Error("handled at once")).catch(function () {});
      return "ok";
    },
    "/microtask-order": function () {
      var order = [];
      queueMicrotask(function () { order.push("b"); });
      Promise.resolve().then(function () { order.push("c"); });
      order.push("a");
      return new Promise(function (resolve) {
        queueMicrotask(function () { resolve(order.join("")); });
      });
    },
    "/utf8": function () { return "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \ud83d\ude00 \u00e9"; },
    "/lone-surrogate": function () { return "a\ud800b"; },
    // The UTF-16 units of props.u as one string, built piece by piece (a
    // rope, as a renderer's += makes) or in one go (flat: props.flat).
    "/units": function (req, props) {
      var u = props.u, s = "";
      if (props.flat) return String.fromCharCode.apply(null, u);
      for (var i = 0; i < u.length; ) {
        var k = Math.min(u.length - i, 1 + (i % 7));
        s += String.fromCharCode.apply(null, u.slice(i, i + k));
        i += k;
      }
      return s;
    },
    "/nul": function () { return "a\u0000b"; },
    "/textcodec": function () {
      var text = "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \ud83d\ude00";
      var enc = new TextEncoder();
      check(enc.encoding === "utf-8", "encoder.encoding");
      var bytes = enc.encode(text);
      check(bytes instanceof Uint8Array, "encode gives a Uint8Array");
      var dec = new TextDecoder();
      check(dec.decode(bytes) === text, "round trip");
      check(new TextDecoder("UTF8").decode(bytes.buffer) === text, "ArrayBuffer input");
      check(new TextDecoder().decode(new DataView(bytes.buffer, 0, 2)) === "\u041f", "DataView input");
      check(new TextDecoder().decode() === "", "no input");
      check(enc.encode().length === 0, "encode()");
      check(hex(enc.encode("\ud800")) === "efbfbd", "lone surrogate encodes as U+FFFD");
      // Streaming: the emoji split over three chunks.
      var s = new TextDecoder(), e = enc.encode("x\ud83d\ude00y"), out = "";
      out += s.decode(e.subarray(0, 2), { stream: true });
      out += s.decode(e.subarray(2, 4), { stream: true });
      out += s.decode(e.subarray(4), { stream: true });
      out += s.decode();
      check(out === "x\ud83d\ude00y", "streamed decode: " + out);
      // An unfinished character at the end of a non-streamed decode.
      check(new TextDecoder().decode(new Uint8Array([0x61, 0xe2, 0x82])) === "a\ufffd", "truncated");
      check(new TextDecoder().decode(new Uint8Array([0xff, 0x61])) === "\ufffda", "invalid byte");
      // BOM stripped by default, kept with ignoreBOM.
      var bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]);
      check(new TextDecoder().decode(bom) === "hi", "BOM stripped");
      check(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bom) === "\ufeffhi", "BOM kept");
      var f = new TextDecoder("utf-8", { fatal: true });
      check(f.fatal === true && f.ignoreBOM === false, "flags");
      var threw = false;
      try { f.decode(new Uint8Array([0xc3, 0x28])); } catch (err) { threw = err instanceof TypeError; }
      check(threw, "fatal throws TypeError");
      var bad = false;
      try { new TextDecoder("latin1"); } catch (err) { bad = err instanceof RangeError; }
      check(bad, "other encodings refused");
      var into = new Uint8Array(5);
      var r = enc.encodeInto("\u00e9\ud83d\ude00", into);
      check(r.read === 1 && r.written === 2, "encodeInto stops before a partial character: " + JSON.stringify(r));
      var illegal = false;
      try { TextEncoder.prototype.encode.call({}, "x"); } catch (err) { illegal = err instanceof TypeError; }
      check(illegal, "receiver check");
      return dec.decode(bytes);
    },
    "/no-node": function () {
      return [typeof require, typeof setTimeout, typeof process, typeof Buffer,
              typeof window, typeof fetch, typeof queueMicrotask, typeof console.log,
              typeof TextEncoder, typeof TextDecoder].join(",");
    },
    "/intl": function () {
      return new Intl.NumberFormat("ru-RU").format(1234.5) + "|" + "\u0401\u0436".toLowerCase();
    },
    "/request": function (req, props) {
      return JSON.stringify({ url: req.url, method: req.method, path: req.path, query: req.query,
                              params: req.params, headers: req.headers, props: props });
    },
    "/big": function (req, props) {
      var s = "";
      for (var i = 0; i < props.n; i++) s += props.chunk;
      return s;
    },
  };

  globalThis.render = function render(req, props) {
    var c = cases[req.path];
    if (!c) throw new Error("no case for " + req.path);
    return c(req, props);
  };
})();
