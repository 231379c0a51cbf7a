// tests/js/it_host_diff.js — the same checks rendered by rustyssr and by
// Node 20 (test_host_vs_node.py loads this file in node with vm and calls
// render): structuredClone's results described value by value, and timer
// order where browsers and Node agree (distinct delays, FIFO for equal
// ones; not the nesting clamp, which Node does not apply, nor the order of
// a message against a timer, which Node leaves to its loop phases).
(function () {
  "use strict";
  function describe(v, seen) {
    seen = seen || new Map();
    if (v === null) return "null";
    var t = typeof v;
    if (t !== "object") return t === "bigint" ? v + "n" : t + ":" + (Object.is(v, -0) ? "-0" : String(v));
    if (seen.has(v)) return "#" + seen.get(v);
    seen.set(v, seen.size);
    var tag = Object.prototype.toString.call(v);
    if (v instanceof Map) return tag + "{" + Array.from(v, function (kv) { return describe(kv[0], seen) + "=>" + describe(kv[1], seen); }).join(",") + "}";
    if (v instanceof Set) return tag + "{" + Array.from(v, function (x) { return describe(x, seen); }).join(",") + "}";
    if (v instanceof Date) return tag + "(" + v.getTime() + ")";
    if (v instanceof RegExp) return tag + "/" + v.source + "/" + v.flags + ":" + v.lastIndex;
    if (ArrayBuffer.isView(v)) return tag + "(" + v.byteOffset + "," + v.length + ")[" + Array.prototype.join.call(v, ",") + "]";
    if (v instanceof ArrayBuffer) return tag + "(" + v.byteLength + ")";
    if (v instanceof Error) return tag + ":" + v.name + ":" + v.message;
    var keys = Object.keys(v);
    return tag + (Array.isArray(v) ? "[" + v.length + "]" : "") + "{" + keys.map(function (k) { return k + ":" + describe(v[k], seen); }).join(",") + "}" +
      (Object.getPrototypeOf(v) === null ? ":nullproto" : "");
  }
  function corpus() {
    var cyc = { a: 1 }; cyc.self = cyc;
    var shared = [1]; var buf = new ArrayBuffer(8); new Uint8Array(buf).set([1, 2, 3, 4, 5, 6, 7, 8]);
    var re = /a(b)?/gy; re.lastIndex = 3;
    return [
      1, -0, NaN, "str\u00e9\ud83d\ude00", true, null, undefined, 12345678901234567890n,
      [1, , 3, "x"], { b: 2, a: 1, 3: "n", "-1": "neg" }, cyc, [shared, shared],
      new Map([[1, "one"], ["k", { deep: [1, 2] }], [cyc, cyc]]), new Set([1, "1", NaN, cyc]),
      new Date(0), new Date(NaN), re, new Uint8Array([1, 2, 3]), new Int16Array([-1, 2]),
      new Float64Array([0.5, -0]), new Uint8Array(buf, 2, 4), buf, new DataView(buf, 1, 2),
      new Error("e1"), new TypeError("t1"), new RangeError("r1"),
      Object.assign(Object.create(null), { nul: 1 }), new Boolean(false), new String("boxed"),
      new Number(4), Object(5n),
      Object.defineProperty({}, "hidden", { value: 1, enumerable: false }),
      { get g() { return "got"; } },
    ];
  }
  function clones() {
    var out = corpus().map(function (v) {
      try { return describe(structuredClone(v)); } catch (e) { return "throw " + e.name; }
    });
    [function f() {}, Symbol("s"), { f: function () {} }, new WeakMap(), Promise.resolve()].forEach(function (v) {
      try { structuredClone(v); out.push("cloned"); } catch (e) { out.push("throw " + e.name); }
    });
    return out.join("\n");
  }
  // Delays at least 5 ms apart, so that a late timer in node (a loaded
  // machine) cannot change the order.
  function timers() {
    return new Promise(function (resolve) {
      var log = [];
      setTimeout(function () { log.push("a30"); }, 30);
      setTimeout(function () { log.push("b1"); }, 1);
      setTimeout(function () { log.push("c10"); }, 10);
      setTimeout(function () { log.push("d10"); }, 10);
      setTimeout(function (x, y) { log.push("args" + x + y); }, 20, "p", "q");
      var t = setTimeout(function () { log.push("cleared"); }, 20);
      setTimeout(function () { clearTimeout(t); log.push("clear15"); }, 15);
      var n = 0;
      var iv = setInterval(function () { log.push("iv" + ++n); if (n === 2) clearInterval(iv); }, 25);
      Promise.resolve().then(function () { log.push("micro"); });
      setTimeout(function () {
        setTimeout(function () { log.push("inner3"); }, 3);
        Promise.resolve().then(function () { log.push("micro-in-33"); });
        log.push("e33");
      }, 33);
      setTimeout(function () { resolve(log.join(",")); }, 90);
      log.push("sync");
    });
  }
  // Messages of one channel against microtasks (not against timers, nor
  // across channels: Node drains one port's queue at a time, browsers and
  // rustyssr keep one FIFO of tasks; HTML leaves that order open).
  function messages() {
    return new Promise(function (resolve) {
      var log = [];
      var a = new MessageChannel();
      a.port1.onmessage = function (ev) {
        log.push("p1:" + describe(ev.data));
        Promise.resolve().then(function () { log.push("micro-after:" + describe(ev.data)); });
        if (ev.data === "a3") a.port1.postMessage("reply");
      };
      a.port2.onmessage = function (ev) {
        log.push("p2:" + ev.data);
        a.port1.close();
        resolve(log.join(","));
      };
      a.port2.postMessage({ n: [1, new Map([[1, 2]])] });
      a.port2.postMessage("a2");
      Promise.resolve().then(function () { log.push("micro"); });
      a.port2.postMessage("a3");
      log.push("sync");
    });
  }
  globalThis.render = function (req) {
    if (req.path === "/messages") return messages();
    if (req.path === "/clone") return clones();
    if (req.path === "/timers") return timers();
    throw new Error("no case " + req.path);
  };
})();
