// tests/js/host_cases.js — the web host APIs (timers, MessageChannel,
// structuredClone, crypto, performance, process.env) as test_shim_v8.c
// renders them; each request path is one case, each answer a string the
// test compares whole. Globals persist across renders of one isolate.
(function () {
  "use strict";
  var leaked = 0;      // set by timers that must have been cancelled
  var ticks = 0;       // /never-interval's interval runs
  var loadOrder = [];  // what ran while the bundle loaded
  // A stand-in when no prelude gives one: ports built later inherit from it.
  if (typeof EventTarget !== "function") globalThis.EventTarget = function EventTarget() {};
  setTimeout(function () { loadOrder.push("timeout0"); }, 0);
  setTimeout(function () { loadOrder.push("timeout-late"); leaked++; }, 50);
  Promise.resolve().then(function () { loadOrder.push("micro"); });

  function done(log) { return log.join(","); }

  var cases = {
    "/load-order": function () { return loadOrder.join(","); },
    // Built at first use (MessagePort first here), the same objects after.
    "/mc-lazy": function () {
      var P = MessagePort;
      var d = Object.getOwnPropertyDescriptor(globalThis, "MessageChannel");
      var port = new MessageChannel().port1;
      return [typeof P, port instanceof P, P === MessagePort, MessageChannel === MessageChannel,
              d.enumerable, port instanceof EventTarget].join(",");
    },
    "/timer-order": function () {
      return new Promise(function (resolve) {
        var log = [];
        setTimeout(function () { log.push("a10"); resolve(done(log)); }, 10);
        setTimeout(function () { log.push("b0"); }, 0);
        setTimeout(function () { log.push("c5"); }, 5);
        setTimeout(function () { log.push("d5"); }, 5);
        setTimeout(function (x, y) { log.push("args" + x + y); }, 1, 1, 2);
        Promise.resolve().then(function () { log.push("micro"); });
        log.push("sync");
      });
    },
    // HTML: a timer set by a timer task of nesting level > 5 gets at least
    // 4 ms. Set at levels 1 and 6 (by tasks of levels 0 and 5), a 0 ms timer
    // runs before a 4 ms one queued just before it; set at level 7 (by a
    // task of level 6) it is clamped to 4 ms and runs after.
    "/timer-nesting": function () {
      return new Promise(function (resolve) {
        var log = [];
        function level(n) {
          if (n === 1 || n === 6 || n === 7) {
            setTimeout(function () { log.push("four@" + n); }, 4);
            setTimeout(function () { log.push("zero@" + n); if (n === 7) resolve(done(log)); }, 0);
          }
          if (n < 7) setTimeout(function () { level(n + 1); }, 0);
        }
        level(1);
      });
    },
    "/timer-clear": function () {
      return new Promise(function (resolve) {
        var log = [];
        var t1 = setTimeout(function () { log.push("t1"); }, 5);
        setTimeout(function () { clearTimeout(t1); log.push("cleared"); }, 1);
        var n = 0;
        var iv = setInterval(function () {
          n++;
          log.push("iv" + n);
          if (n === 3) clearInterval(iv);
        }, 2);
        var self = setTimeout(function () { clearTimeout(self); log.push("self"); }, 3);
        setTimeout(function () { resolve(done(log)); }, 20);
        clearTimeout(undefined);
        clearTimeout(123456);
        clearInterval("x");
      });
    },
    "/interval": function () {
      return new Promise(function (resolve) {
        var n = 0;
        setInterval(function () { n++; }, 10);
        setTimeout(function () { resolve("interval ran " + n); }, 35);
      });
    },
    // Resolves at once with a 10 s timer pending: answered at once, and the
    // timer never runs (/leaked says so in a later render).
    "/long-timer": function () {
      setTimeout(function () { leaked++; }, 10000);
      setInterval(function () { leaked++; }, 1000);
      return Promise.resolve("fast");
    },
    "/await-timer": async function () {
      var t0 = Date.now();
      await new Promise(function (r) { setTimeout(r, 10000); });
      return "waited " + (Date.now() - t0 < 5000 ? "virtually" : "really");
    },
    "/leaked": function () { return "leaked " + leaked; },
    "/never-interval": function () {
      setInterval(function () { ticks++; }, 1);
      return new Promise(function () {});
    },
    "/ticks": function () {
      var before = ticks;
      return Promise.resolve().then(function () { return "ticks still " + (ticks === before); });
    },
    "/timer-bad": function () {
      try { setTimeout("leaked++", 0); return "no throw"; } catch (e) { return e.name; }
    },
    "/after-settle": function () {
      // Due when the render settled: runs; later: cancelled.
      setTimeout(function () { globalThis.afterSettle = "ran"; }, 0);
      setTimeout(function () { leaked++; }, 1);
      return "settled";
    },
    "/after-settle-check": function () { return String(globalThis.afterSettle); },
    // Work that keeps posting itself after the render settled: bounded.
    "/pingpong": function () {
      var ch = new MessageChannel();
      globalThis.pings = 0;
      ch.port1.onmessage = function () { globalThis.pings++; ch.port2.postMessage(0); };
      ch.port2.postMessage(0);
      return "settled";
    },
    "/pings": function () { return String(globalThis.pings); },
    "/mc-order": function () {
      return new Promise(function (resolve) {
        var log = [];
        var ch = new MessageChannel();
        ch.port1.onmessage = function (ev) {
          log.push("msg:" + ev.data.n + ":" + (ev.target === ch.port1));
          if (ev.data.n === 2) setTimeout(function () { resolve(done(log)); }, 0);
        };
        ch.port2.postMessage({ n: 1 });
        setTimeout(function () { log.push("timeout"); }, 0);
        ch.port2.postMessage({ n: 2 });
        Promise.resolve().then(function () { log.push("micro"); });
        log.push("sync");
      });
    },
    // addEventListener alone does not start a port; start() delivers what
    // was queued. The message is a copy.
    "/mc-start": function () {
      return new Promise(function (resolve) {
        var log = [];
        var ch = new MessageChannel();
        var obj = { k: [1, 2] };
        ch.port1.addEventListener("message", function (ev) {
          log.push("l:" + JSON.stringify(ev.data) + ":" + (ev.data !== obj));
          if (log.length === 3) resolve(done(log));
        });
        ch.port2.postMessage(obj);
        setTimeout(function () {
          log.push("not started");
          ch.port1.start();
          ch.port2.postMessage("second");
        }, 5);
      });
    },
    "/mc-errors": function () {
      var ch = new MessageChannel();
      var out = [];
      try { ch.port1.postMessage(function () {}); } catch (e) { out.push(e.name); }
      try { new MessagePort(); } catch (e) { out.push(e.name); }
      out.push(Object.prototype.toString.call(ch.port1));
      return out.join(",");
    },
    "/clone": function () {
      var a = { name: "a" };
      a.self = a;
      var m = new Map([["k", a]]);
      var src = {
        map: m, set: new Set([1, "two"]), date: new Date(86400000), re: /x+/gi,
        u8: new Uint8Array([1, 2, 3]), ab: new Uint16Array([7, 8]).buffer, big: 10n,
        arr: [1, , 3], nested: { deep: [a] },
      };
      var c = structuredClone(src);
      var ok = [
        c !== src, c.map instanceof Map, c.map.get("k").self === c.map.get("k"),
        c.map.get("k") !== a, c.nested.deep[0] === c.map.get("k"),
        c.set.has("two") && c.set.size === 2, c.date instanceof Date && c.date.getTime() === 86400000,
        c.re.source === "x+" && c.re.flags === "gi", c.u8 instanceof Uint8Array && c.u8.join() === "1,2,3",
        c.u8.buffer !== src.u8.buffer, new Uint16Array(c.ab).join() === "7,8", c.big === 10n,
        c.arr.length === 3 && !(1 in c.arr),
      ];
      return ok.join(",");
    },
    "/clone-error": function () {
      var out = [];
      [function () {}, Symbol("s"), { f: function () {} }].forEach(function (v) {
        try { structuredClone(v); out.push("cloned"); } catch (e) {
          out.push(e.name + "/" + e.code + "/" + (e instanceof Error || typeof DOMException === "function"));
        }
      });
      try { structuredClone(); } catch (e) { out.push(e.name); }
      return out.join(",");
    },
    "/clone-transfer": function () {
      var out = [];
      var ab = new Uint8Array([1, 2, 3]).buffer;
      var c = structuredClone({ b: ab, v: new Uint8Array(ab, 1) }, { transfer: [ab] });
      out.push(ab.byteLength, new Uint8Array(c.b).join(""), c.v.join(""), c.v.buffer === c.b);
      var ab2 = new ArrayBuffer(4);
      try { structuredClone(ab2, { transfer: [ab2, ab2] }); } catch (e) { out.push(e.name); }
      try { structuredClone(1, { transfer: [{}] }); } catch (e) { out.push(e.name); }
      try { structuredClone(ab, { transfer: [ab] }); } catch (e) { out.push(e.name); }
      try { structuredClone(1, { transfer: 5 }); } catch (e) { out.push(e.name); }
      out.push(ab2.byteLength);
      return new Promise(function (resolve) {
        var ch = new MessageChannel();
        var ab3 = new Uint16Array([7, 8]).buffer;
        ch.port1.onmessage = function (ev) {
          out.push(new Uint16Array(ev.data).join("+"), ab3.byteLength);
          resolve(out.join(","));
        };
        ch.port2.postMessage(ab3, [ab3]);
      });
    },
    "/crypto": function () {
      var out = [];
      var u8 = new Uint8Array(32);
      out.push(crypto.getRandomValues(u8) === u8);
      out.push(u8.some(function (b) { return b !== 0; }));
      var big = new BigUint64Array(2);
      crypto.getRandomValues(big);
      out.push(crypto.getRandomValues(new Uint8Array(65536)).length);
      try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { out.push(e.name); }
      try { crypto.getRandomValues(new Float32Array(4)); } catch (e) { out.push(e.name); }
      try { crypto.getRandomValues([1, 2]); } catch (e) { out.push(e.name); }
      var u = crypto.randomUUID();
      out.push(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u));
      out.push(u !== crypto.randomUUID());
      return out.join(",");
    },
    "/perf": function () {
      var a = performance.now(), b = performance.now();
      return [typeof a, b >= a, a >= 0,
              Math.abs(performance.timeOrigin + a - Date.now()) < 1000].join(",");
    },
    "/env": function () {
      return [process.env.NODE_ENV, process.env.API_URL, typeof process.env.NOPE,
              Object.keys(process).join("+"), typeof require, typeof Buffer,
              typeof __dirname].join(",");
    },
    // A chain that breaks in a timer: the render reports the ReferenceError.
    "/broken-timer": function () {
      return new Promise(function (resolve) {
        setTimeout(function () { notDefinedAnywhere(); resolve("never"); }, 0);
      });
    },
    "/broken-microtask": function () {
      return new Promise(function (resolve) {
        queueMicrotask(function () { alsoMissing(); resolve("never"); });
      });
    },
    // A rejection nobody handles, the render's own promise left pending.
    "/broken-rejection": function () {
      return new Promise(function () {
        Promise.reject(new TypeError("lost along the way"));
      });
    },
  };

  globalThis.render = function (req) {
    var c = cases[req.path];
    if (!c) throw new Error("no case for " + req.path);
    return c(req);
  };
})();
