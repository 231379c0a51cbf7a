#!/usr/bin/env python3
"""SIGHUP reload: new requests use the new config, routes and bundle; requests
in flight finish on the old ones; connections stay open; a broken config or
bundle keeps the running one; the page cache survives unless
cache.clear_on_reload says otherwise; old generations are freed."""

import os
import signal
import threading
import time

from rslib import SLOW, Reader, Server, check_sanitizer_clean, eq, lua_str, main, wait_log

BUNDLE = r"""(function () {
  "use strict";
  var V = %s;
  function spin(ms) { var end = Date.now() + ms; while (Date.now() < end) {} }
  globalThis.render = function (req) {
    if (req.path === "/slow") {
      console.log("slow render started");
      spin(%d);
    }
    return { status: 200, headers: { "x-bundle": V }, html: "<p>bundle " + V + " " + req.path + "</p>" };
  };
})();
"""


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)    # as a deploy would: never a half-written file


def write_bundle(srv, version, slow_ms=1500, name="bundle.js"):
    write(os.path.join(srv.dir, name), BUNDLE % (lua_str(version), slow_ms))


def config(srv, routes, extra=""):
    """The whole config file, with the server's ports (as Server writes it)."""
    return ('local ssr = require "rustyssr"\n'
            'ssr.config {\n  listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", workers = 2, pin = false,\n'
            '  %s\n}\n%s\n' % (srv.port, srv.admin_port, extra, routes))


def reload(srv, expect_ok=True, timeout=20.0):
    """SIGHUP, then wait for its outcome in the log."""
    ok0 = srv.log().count(": reloaded ")
    bad0 = srv.log().count("reload failed, keeping the current configuration")
    srv.signal(signal.SIGHUP)
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        log = srv.log()
        if log.count(": reloaded ") > ok0:
            assert expect_ok, "reload succeeded, expected a failure:\n" + log
            return
        if log.count("reload failed, keeping the current configuration") > bad0:
            assert not expect_ok, "reload failed:\n" + log
            return
        time.sleep(0.02)
    raise AssertionError("no reload outcome in the log:\n" + srv.log())


def keepalive_get(reader, sock, path, host="localhost"):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    return reader.read_response()


def wait_generations(srv, n=1, timeout=15.0):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if srv.metrics().get("rustyssr_config_generations") == n:
            return
        time.sleep(0.05)
    raise AssertionError("generations stayed at %s:\n%s" % (srv.metrics().get("rustyssr_config_generations"),
                                                           srv.log()))


# ---------------------------------------------------------------------------


def test_reload_under_load_every_response_200():
    srv = Server()
    routes = lambda v: ('ssr.respond("/hello", 200, %s)\n'
                        'ssr.route("GET", "/lua", function(req) return 200, %s end)\n'
                        'ssr.route("GET", "/r/*", { render = { ttl = 1 },\n'
                        '  key = function(req) return "k" .. req.path end })\n'
                        'ssr.route("GET", "/u/*", { render = { cache = false } })\n'
                        % (lua_str("v%d\n" % v), lua_str("lua v%d\n" % v)))
    conf = lambda v: config(srv, routes(v), extra='render = { bundle = "bundle.js", threads = 1, timeout_ms = 10000 },')
    write_bundle(srv, "b0")
    write(srv.config_path, conf(0))
    with srv:
        stop = threading.Event()
        results = {"n": 0, "bad": [], "bodies": set()}
        lock = threading.Lock()

        def client(i):
            s = srv.connect()
            r = Reader(s)
            try:
                n = 0
                while not stop.is_set():
                    n += 1
                    path = ("/hello", "/lua", "/r/%d" % (n % 7), "/u/%d" % n)[i % 4]
                    try:
                        resp = keepalive_get(r, s, path)
                    except Exception as e:  # a dropped connection is a failure
                        with lock:
                            results["bad"].append(repr(e))
                        return
                    with lock:
                        results["n"] += 1
                        results["bodies"].add(resp.body)
                        if resp.status != 200:
                            results["bad"].append(resp)
            finally:
                s.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        try:
            for v in range(1, 6):
                write_bundle(srv, "b%d" % v)
                write(srv.config_path, conf(v))
                reload(srv)
                time.sleep(0.05)
            # two at once: the second waits for the first
            write(srv.config_path, conf(6))
            srv.signal(signal.SIGHUP)
            srv.signal(signal.SIGHUP)
            deadline = time.time() + 20 * SLOW
            while srv.log().count(": reloaded ") < 6 and time.time() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not results["bad"], results["bad"][:5]
        assert results["n"] > 50, results["n"]
        assert b"v6\n" in results["bodies"] and b"lua v6\n" in results["bodies"], results["bodies"]
        assert b"<p>bundle b5 /u/" in b"".join(results["bodies"]), "renders with the last bundle"
        eq(srv.get("/hello").body, b"v6\n", "after the last reload")
        eq(srv.get("/lua").body, b"lua v6\n", "the Lua handler after the last reload")
        m = srv.metrics()
        assert m['rustyssr_reloads_total{result="ok"}'] >= 6, m
        eq(m['rustyssr_reloads_total{result="failed"}'], 0, "failed reloads")
        wait_generations(srv, 1)
        assert "configuration 1 freed" in srv.log()


def test_lua_hook_suspended_across_reload_finishes_in_its_state():
    srv = Server()
    routes = lambda v: ('local V = %s\n'
                        'ssr.route("GET", "/nap", function(req)\n'
                        '  ssr.sleep(tonumber(req.query.s))\n'
                        '  return 200, "woke in " .. V .. "\\n"\n'
                        'end)\n'
                        'ssr.route("GET", "/v", function(req) return 200, V .. "\\n" end)\n' % lua_str(v))
    write(srv.config_path, config(srv, routes("v1")))
    with srv:
        eq(srv.get("/nap?s=0").body, b"woke in v1\n", "before")
        naps = {}
        threads = [threading.Thread(target=lambda i=i: naps.__setitem__(i, srv.get("/nap?s=3")))
                   for i in range(4)]
        t0 = time.time()
        for t in threads:
            t.start()
        time.sleep(0.3 * SLOW)       # the naps are suspended in the v1 states
        write(srv.config_path, config(srv, routes("v2")))
        reload(srv)
        eq(srv.get("/v").body, b"v2\n", "new requests: the new Lua state")
        gens = srv.metrics()["rustyssr_config_generations"]
        if time.time() - t0 < 2.0:     # the naps (3 s) are surely still suspended
            eq(gens, 2, "the old Lua states are kept while their coroutines sleep")
        for t in threads:
            t.join(30 * SLOW)
        for i in range(4):
            eq((naps[i].status, naps[i].body), (200, b"woke in v1\n"), "a coroutine resumes in its own state")
        wait_generations(srv, 1)


def test_new_route_and_body_after_reload():
    srv = Server()
    write(srv.config_path, config(srv, 'ssr.respond("/a", 200, "old a\\n")\n'))
    with srv:
        eq(srv.get("/a").body, b"old a\n", "before")
        eq(srv.get("/b").status, 404, "/b before")
        write(srv.config_path, config(srv, 'ssr.respond("/a", 200, "new a\\n")\nssr.respond("/b", 201, "b\\n")\n'))
        reload(srv)
        eq(srv.get("/a").body, b"new a\n", "changed body")
        r = srv.get("/b")
        eq((r.status, r.body), (201, b"b\n"), "new route")
        assert "(2 routes, bundle none)" in srv.log(), srv.log()


def test_http_options_follow_the_reload():
    """The HTTP layer's own options (rs_http_opts_t: limits, real_ip) come
    with each generation: after a reload, new requests are read and resolved
    under the new ones."""
    srv = Server()
    routes = 'ssr.route("GET", "/ip", function(req) return 200, (req.client or "?") .. "\\n" end)\n'
    write(srv.config_path, config(srv, routes, 'limits = { url = 64 },'))
    long_path = "/ip?" + "q" * 100
    xff = {"X-Forwarded-For": "203.0.113.7"}
    with srv:
        eq(srv.get(long_path).status, 414, "limits.url = 64")
        r = srv.get("/ip", headers=xff)
        eq((r.status, r.body), (200, b"127.0.0.1\n"), "no trusted proxy: the peer")
        write(srv.config_path, config(srv, routes, 'limits = { url = 4096 }, real_ip = { from = { "127.0.0.1" } },'))
        reload(srv)
        eq(srv.get(long_path).status, 200, "limits.url = 4096 after the reload")
        r = srv.get("/ip", headers=xff)
        eq((r.status, r.body), (200, b"203.0.113.7\n"), "127.0.0.1 trusted after the reload")


def test_keepalive_connection_survives_reload():
    srv = Server()
    write(srv.config_path, config(srv, 'ssr.respond("/k", 200, "one\\n")\n'))
    with srv:
        conns = [srv.connect() for _ in range(4)]   # on both loops, most likely
        readers = [Reader(s) for s in conns]
        for s, r in zip(conns, readers):
            eq(keepalive_get(r, s, "/k").body, b"one\n", "before")
        write(srv.config_path, config(srv, 'ssr.respond("/k", 200, "two\\n")\n'))
        reload(srv)
        for s, r in zip(conns, readers):
            resp = keepalive_get(r, s, "/k")
            eq((resp.status, resp.body), (200, b"two\n"), "same connection after the reload")
            assert resp.header("connection") != "close", resp
            s.close()


def test_broken_config_keeps_the_old_one():
    srv = Server()
    good = config(srv, 'ssr.respond("/x", 200, "good\\n")\n')
    write(srv.config_path, good)
    with srv:
        # a syntax error: the line is Lua's
        write(srv.config_path, good + "ssr.respond(\"/y\", 200\n  this is not lua\n")
        reload(srv, expect_ok=False)
        log = srv.log()
        assert "reload failed, keeping the current configuration: %s:" % srv.config_path in log, log
        eq(srv.get("/x").body, b"good\n", "still the old config")
        # a bad value: the line of the call
        write(srv.config_path, good + 'ssr.route("GET", "/z", { respond = { status = 999 } })\n')
        reload(srv, expect_ok=False)
        bad_line = good.count("\n") + 1
        assert "reload failed, keeping the current configuration: %s:%d:" % (srv.config_path, bad_line) \
            in srv.log(), srv.log()
        eq(srv.get("/x").body, b"good\n", "still the old config")
        eq(srv.get("/z").status, 404, "the refused route")
        # an unknown server name: the route's line
        write(srv.config_path, good + 'ssr.route("GET", "/s", { server = "nope", respond = { status = 200 } })\n')
        reload(srv, expect_ok=False)
        assert "%s:%d: unknown server 'nope'" % (srv.config_path, bad_line) in srv.log(), srv.log()
        m = srv.metrics()
        eq(m['rustyssr_reloads_total{result="failed"}'], 3, "failed reloads")
        eq(m['rustyssr_reloads_total{result="ok"}'], 0, "ok reloads")
        # and a good one still works afterwards
        write(srv.config_path, config(srv, 'ssr.respond("/x", 200, "better\\n")\n'))
        reload(srv)
        eq(srv.get("/x").body, b"better\n", "after a good reload")


def test_restart_only_settings_keep_their_values():
    srv = Server()
    write(srv.config_path, config(srv, 'ssr.respond("/x", 200, "1\\n")\n'))
    with srv:
        changed = config(srv, 'ssr.respond("/x", 200, "2\\n")\n',
                         extra="backlog = 64, cache = { shards = 4 },").replace("workers = 2", "workers = 1")
        write(srv.config_path, changed)
        reload(srv)
        log = srv.log()
        assert "reload: backlog, workers, cache.shards cannot change without a restart" in log, log
        eq(srv.get("/x").body, b"2\n", "the rest applies")
        eq(srv.metrics()["rustyssr_workers"], 2, "workers")


def render_config(srv, extra_cache="", bundle="bundle.js"):
    return config(srv, 'ssr.route("GET", "/page", { render = { ttl = 300 } })\n'
                       'ssr.route("GET", "/*", { render = { cache = false } })\n',
                  extra='render = { bundle = "%s", threads = 2, timeout_ms = 10000 }, %s' % (bundle, extra_cache))


def test_bundle_reload_and_render_in_flight():
    srv = Server()
    write_bundle(srv, "v1", slow_ms=4000)
    write(srv.config_path, render_config(srv))
    with srv:
        eq(srv.get("/fast").body, b"<p>bundle v1 /fast</p>", "v1")
        slow = {}

        def slow_get():
            slow["r"] = srv.get("/slow")

        t = threading.Thread(target=slow_get)
        t.start()
        wait_log(srv, "slow render started", 10)
        t0 = time.time()
        write_bundle(srv, "v2", slow_ms=4000)
        reload(srv)
        r = srv.get("/fast")
        eq(r.body, b"<p>bundle v2 /fast</p>", "new requests: the new bundle")
        gens = srv.metrics()["rustyssr_config_generations"]
        if time.time() - t0 < 3.0:     # the old render (4 s) is surely still running
            eq(gens, 2, "the old configuration is kept while its render runs")
        t.join(30 * SLOW)
        eq(slow["r"].status, 200, "the render in flight")
        eq(slow["r"].body, b"<p>bundle v1 /slow</p>", "the render in flight finishes on the old bundle")
        wait_generations(srv, 1)


def test_broken_bundle_keeps_the_old_one():
    srv = Server()
    write_bundle(srv, "v1")
    write(srv.config_path, render_config(srv))
    with srv:
        eq(srv.get("/fast").body, b"<p>bundle v1 /fast</p>", "v1")
        bundle = os.path.join(srv.dir, "bundle.js")
        write(bundle, "(function () {\n  var x = ;\n})();\n")
        reload(srv, expect_ok=False)
        log = srv.log()
        assert "reload failed, keeping the current configuration: " in log and "bundle.js:2" in log, log
        eq(srv.get("/fast").body, b"<p>bundle v1 /fast</p>", "still v1")
        # a bundle without the render function
        write(bundle, "var nothing = 1;\n")
        reload(srv, expect_ok=False)
        eq(srv.get("/fast").body, b"<p>bundle v1 /fast</p>", "still v1")
        write_bundle(srv, "v3")
        reload(srv)
        eq(srv.get("/fast").body, b"<p>bundle v3 /fast</p>", "fixed")


def test_cache_survives_reload_unless_cleared():
    # on_new_bundle = "keep": a new bundle leaves older pages as they are
    # (the default, "stale", is tested in test_traffic.py)
    srv = Server()
    write_bundle(srv, "v1")
    write(srv.config_path, render_config(srv, extra_cache='cache = { on_new_bundle = "keep" },'))
    with srv:
        r = srv.get("/page")
        eq((r.header("x-cache"), r.body), ("MISS", b"<p>bundle v1 /page</p>"), "first")
        r = srv.get("/page")
        assert r.header("x-cache").startswith("HIT"), r
        write_bundle(srv, "v2")
        reload(srv)
        r = srv.get("/page")
        assert r.header("x-cache").startswith("HIT"), r
        eq(r.body, b"<p>bundle v1 /page</p>", "the cached page survives the reload")
        eq(srv.get("/other").body, b"<p>bundle v2 /other</p>", "uncached: the new bundle")
        write(srv.config_path, render_config(srv, extra_cache="cache = { clear_on_reload = true },"))
        reload(srv)
        assert "cache.clear_on_reload: 1 page(s) purged" in srv.log(), srv.log()
        r = srv.get("/page")
        eq((r.header("x-cache"), r.body), ("MISS", b"<p>bundle v2 /page</p>"), "cleared")


def test_reload_during_drain_is_ignored():
    srv = Server()
    write_bundle(srv, "v1", slow_ms=1500)
    write(srv.config_path, render_config(srv))
    srv.start()
    try:
        slow = {}
        t = threading.Thread(target=lambda: slow.setdefault("r", srv.get("/slow")))
        t.start()
        wait_log(srv, "slow render started", 10)
        srv.signal(signal.SIGTERM)
        wait_log(srv, "graceful shutdown")
        srv.signal(signal.SIGHUP)
        wait_log(srv, "SIGHUP during shutdown: reload ignored")
        t.join(30 * SLOW)
        eq(slow["r"].status, 200, "the request in flight")
        eq(srv.proc.wait(30 * SLOW), 0, "exit code")
    finally:
        code = srv.stop()
        srv.logf.close()
    check_sanitizer_clean(srv.log())
    assert code == 0, srv.log()


if __name__ == "__main__":
    main([
        test_reload_under_load_every_response_200,
        test_lua_hook_suspended_across_reload_finishes_in_its_state,
        test_new_route_and_body_after_reload,
        test_keepalive_connection_survives_reload,
        test_broken_config_keeps_the_old_one,
        test_restart_only_settings_keep_their_values,
        test_bundle_reload_and_render_in_flight,
        test_broken_bundle_keeps_the_old_one,
        test_cache_survives_reload_unless_cleared,
        test_reload_during_drain_is_ignored,
    ])
