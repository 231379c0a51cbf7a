"""Lua hooks over real sockets: respond handlers, the request object, the
key, bypass and props hooks of render routes, per-route TTLs, errors and
wrong types answered 500 with a log line naming the route and the hook."""

import json
import os
import re
import shutil
import time

from rslib import SLOW, TESTS, Server, main

BUNDLE = os.path.join(TESTS, "js", "it_hooks.js")

ROUTES = r'''
package.path = "%(lua)s/?.lua;" .. package.path
require "hooks.routes"

ssr.route("GET", "/hello", function(req)
  return 200, "hi " .. (req.query.name or "?"), { ["X-Hook"] = "yes", ["Set-Cookie"] = { "a=1", "b=2" } }
end)
ssr.route("GET", "/table", { respond = function(req)
  return { status = 201, body = "made", headers = { ["Content-Type"] = "text/x-test" } }
end })
ssr.route({ "GET", "POST" }, "/echo", function(req)
  local names = {}
  for k in pairs(req.headers) do names[#names + 1] = k end
  table.sort(names)
  req.ctx.seen = true
  return 200, table.concat({
    req.method, req.host, req.path, req.url, tostring(req.query.a), tostring(req.query.list and #req.query.list),
    tostring(req.cookie.sid), tostring(req.cookie.theme), req.client == "127.0.0.1" and "client-ok" or req.client,
    #req.id > 0 and "id-ok" or "no-id", tostring(req.ctx.seen), table.concat(names, ",") }, "|")
end)
ssr.route("GET", "/boom", function(req) error("kaboom in a hook") end)
ssr.route("GET", "/wrong", function(req) return "not a status" end)
ssr.route("GET", "/badheader", function(req) return 200, "x", { ["Bad Name"] = "v" } end)

ssr.route("GET", "/keyed/*", { render = true,
  key = function(req) return "k:" .. req.path .. ":" .. (req.query.color or "") end })
ssr.route("GET", "/merged/*", { render = true, key = function(req) return "one-page" end })
ssr.route("GET", "/bypassed/*", { render = true,
  bypass = function(req) return req.query.preview == "1" end })
ssr.route("GET", "/props/*", { render = true,
  props = function(req) return { who = req.query.who, list = { 1, 2, 3 }, nested = { ok = true } } end })
ssr.route("GET", "/props-fail", { render = true, props = function(req) return nil, "backend said no" end })
ssr.route("GET", "/keyerr/*", { render = true, key = function(req) return {} end })
ssr.route("GET", "/short/*", { render = { ttl = 1, grace = 0 } })
ssr.route("GET", "/long/*", { render = { ttl = 60 } })
ssr.route("GET", "/plain", { respond = { status = 200, body = "no lua" } })
ssr.route("GET", "/p/:id/:slug", function(req) return 200, req.params.id .. "/" .. req.params.slug end)
ssr.route("GET", "/product/:id", { render = true,
  props = function(req) return { id = req.params.id } end })
''' % {"lua": os.path.join(TESTS, "lua")}


def server(**kw):
    return Server(workers=2, config={"render": '{ bundle = "%s", threads = 1 }' % BUNDLE,
                                     "cache": "{ ttl = 60, grace = 0 }"}, routes=ROUTES, **kw)


def props_of(body):
    m = re.search(rb"<pre id=props>(.*?)</pre>", body)
    assert m, body
    return json.loads(m.group(1))


def test_respond_handlers_and_module_routes():
    with server() as srv:
        r = srv.get("/hello?name=lua")
        assert r.status == 200 and r.body == b"hi lua", r
        assert r.header("x-hook") == "yes"
        assert [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"], r.headers
        assert r.header("content-type") == "text/plain; charset=utf-8"
        t = srv.get("/table")
        assert t.status == 201 and t.body == b"made" and t.header("content-type") == "text/x-test", t
        m = srv.get("/mod")
        assert m.status == 200 and m.body == b"from a module: /mod", m
        assert srv.get("/plain").body == b"no lua"
        assert "Lua hooks ready" in srv.log()


def test_request_object():
    with server() as srv:
        r = srv.get("/echo?a=x%20y&list=1&list=2", headers={"Host": "Example.COM:8080", "Cookie": "sid=42; theme=\"dark\"",
                                                        "X-Custom": "v"})
        parts = r.body.decode().split("|")
        assert parts[:11] == ["GET", "example.com:8080", "/echo", "/echo?a=x%20y&list=1&list=2", "x y", "2", "42",
                              "dark", "client-ok", "id-ok", "true"], parts
        assert "x-custom" in parts[11].split(",") and "cookie" in parts[11].split(","), parts[11]


def test_hook_errors_are_500_and_logged():
    with server() as srv:
        r = srv.get("/boom")
        assert r.status == 500, r
        assert b"kaboom" not in r.body
        log = srv.log()
        assert "respond hook failed" in log and "kaboom in a hook" in log and "stack traceback" in log, log
        assert re.search(r"route \S+rustyssr\.lua:\d+: respond hook failed", log), log
        w = srv.get("/wrong")
        assert w.status == 500
        assert "respond hook returned string, expected a status 200..599" in srv.log(), srv.log()
        assert srv.get("/badheader").status == 500
        assert "invalid or reserved header" in srv.log()
        k = srv.get("/keyerr/x")
        assert k.status == 500 and "key hook returned table, expected a string" in srv.log(), srv.log()
        p = srv.get("/props-fail")
        assert p.status == 500 and "backend said no" in srv.log()
        for _ in range(5):  # and the loops keep serving
            assert srv.get("/hello?name=again").body == b"hi again"


def test_key_hook_splits_and_merges():
    with server() as srv:
        a = srv.get("/keyed/p?color=red&x=1")
        b = srv.get("/keyed/p?color=red&x=2")
        c = srv.get("/keyed/p?color=blue")
        assert a.header("x-cache") == "MISS" and b.header("x-cache").startswith("HIT"), (a, b)
        assert c.header("x-cache") == "MISS", c
        m1 = srv.get("/merged/one")
        m2 = srv.get("/merged/two")
        assert m1.header("x-cache") == "MISS" and m2.header("x-cache").startswith("HIT") and m1.body == m2.body


def test_bypass_hook():
    with server() as srv:
        srv.get("/bypassed/x")
        assert srv.get("/bypassed/x").header("x-cache").startswith("HIT")
        r = srv.get("/bypassed/x?preview=1")
        assert r.header("x-cache") == "BYPASS", r
        assert srv.metrics()["rustyssr_cache_bypass_total"] == 1


def test_props_reach_the_bundle():
    with server() as srv:
        r = srv.get("/props/a?who=%D0%BC%D0%B8%D1%80")
        assert r.status == 200, r
        assert props_of(r.body) == {"who": "мир", "list": [1, 2, 3], "nested": {"ok": True}}, r.body
        # the props hook runs only when rendering: a hit serves the stored page
        assert srv.get("/props/a?who=%D0%BC%D0%B8%D1%80").header("x-cache").startswith("HIT")


def test_props_with_the_cache_off():
    """cache = false: a render route's props hook still runs before its
    render (the page flow without the cache), and the loop survives it."""
    srv = Server(workers=2, config={"render": '{ bundle = "%s", threads = 1 }' % BUNDLE, "cache": "false"},
                 routes=ROUTES)
    with srv:
        for _ in range(3):
            r = srv.get("/props/a?who=me")
            assert r.status == 200, r
            assert props_of(r.body) == {"who": "me", "list": [1, 2, 3], "nested": {"ok": True}}, r.body
            assert r.header("x-cache") is None, r
        assert srv.get("/props-fail").status == 500
        assert srv.proc.poll() is None, srv.log()


def test_per_route_ttl():
    with server() as srv:
        srv.get("/short/a"), srv.get("/long/a")
        assert srv.get("/short/a").header("x-cache").startswith("HIT")
        time.sleep(1.3)
        assert srv.get("/short/a").header("x-cache") == "MISS"
        assert srv.get("/long/a").header("x-cache").startswith("HIT")


def test_params_reach_hooks_and_bundle():
    with server() as srv:
        r = srv.get("/p/42/red-shoes")
        assert r.status == 200 and r.body == b"42/red-shoes", r
        assert srv.get("/p/42").status == 404
        b = srv.get("/product/7")
        assert props_of(b.body) == {"id": "7"}, b.body
        m = re.search(rb"<pre id=params>(.*?)</pre>", b.body)
        assert m and json.loads(m.group(1)) == {"id": "7"}, b.body


def test_no_hooks_no_lua_state():
    srv = Server(routes='ssr.respond("/x", 200, "x")')
    with srv:
        assert srv.get("/x").body == b"x"
    assert "Lua hooks ready" not in srv.log()


if __name__ == "__main__":
    main([test_respond_handlers_and_module_routes, test_request_object, test_hook_errors_are_500_and_logged,
          test_key_hook_splits_and_merges, test_bypass_hook, test_props_reach_the_bundle,
          test_props_with_the_cache_off, test_per_route_ttl,
          test_params_reach_hooks_and_bundle, test_no_hooks_no_lua_state])
