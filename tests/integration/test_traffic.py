#!/usr/bin/env python3
"""Real traffic (issue 13, the cache half) over real sockets: cookies a route
names split its pages and are all its pages see, other cookies neither bypass
nor reach them; deploys (a new bundle turns older pages STALE, each re-rendered
once under load; cache.version; on_new_bundle keep/purge); soft purges;
Cache-Control for downstream caches and canonical header names; error pages."""

import html
import os
import re
import shutil
import signal
import threading
import time

from rslib import SLOW, Server, main, run_config_check

BUNDLE = os.path.join(os.environ.get("RUSTYSSR_TESTS", os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "js", "it_traffic.js")

ROUTES = r'''
ssr.route("GET", "/c/*", { render = true, cookies = { "currency", "lang" },
  bypass = { cookie = "session" } })
ssr.route("GET", "/plain/*", { render = true })
ssr.route("GET", "/p/*", { render = true, cookies = "currency",
  props = function(req)
    return { cookie = req.headers.cookie or "", currency = req.cookie.currency or "",
             ga = req.cookie._ga or "" }
  end })
ssr.route("GET", "/k/*", { render = true, cookies = { "currency" },
  key = function(req) return req.path .. "|" .. (req.cookie._ga or "-") end })
ssr.route("GET", "/b/*", { render = true, cookies = { "currency" },
  bypass = function(req) return req.cookie._ga == "skip" end })
ssr.route("GET", "/none/*", { render = true, cookies = {} })
ssr.route("GET", "/count", { render = { cache = false } })
'''


def xc(r):
    return r.header("x-cache") or ""


def field(r, name):
    m = re.search(rb"<p id=" + name.encode() + rb">(.*?)</p>", r.body)
    assert m, r
    return html.unescape(m.group(1).decode())


def counter(r):
    return int(field(r, "n"))


def server(routes=ROUTES, cache="{ ttl = 60, grace = 0 }", extra=None, bundle=BUNDLE, **kw):
    cfg = {"render": '{ bundle = "%s", threads = 1 }' % bundle, "cache": cache}
    cfg.update(extra or {})
    return Server(workers=2, config=cfg, routes=routes, **kw)


# ------------------------------------------------------------------ cookies

def test_named_cookies_split_the_key_and_others_are_invisible():
    with server() as srv:
        a = srv.get("/c/x", headers={"Cookie": "currency=EUR; _ga=GA1.2.3; _gid=9"})
        assert xc(a) == "MISS", a
        # only the named cookie reaches the page, rebuilt from the key's values
        assert field(a, "cookie") == "currency=EUR", a
        # another analytics value, other order, spaces, quotes: the same page
        for c in ("_gid=1; currency=EUR", "currency=\"EUR\" ;  _ga=other", " currency = EUR"):
            r = srv.get("/c/x", headers={"Cookie": c})
            assert xc(r).startswith("HIT") and counter(r) == counter(a), (c, r)
        # the first value of a repeated name wins (nginx's $cookie_NAME), across headers too
        r = srv.get("/c/x", headers={"Cookie": "currency=EUR; currency=USD"})
        assert xc(r).startswith("HIT") and counter(r) == counter(a), r
        # a named cookie's value splits the key
        usd = srv.get("/c/x", headers={"Cookie": "currency=USD; _ga=1"})
        assert xc(usd) == "MISS" and field(usd, "cookie") == "currency=USD", usd
        both = srv.get("/c/x", headers={"Cookie": "lang=fr; currency=USD"})
        assert xc(both) == "MISS" and field(both, "cookie") == "currency=USD; lang=fr", both
        # no cookie at all, only unnamed ones, an empty named one: each its own page,
        # and the page saw no cookie it was not keyed on
        none = srv.get("/c/x")
        assert xc(none) == "MISS" and field(none, "cookie") == "", none
        ga = srv.get("/c/x", headers={"Cookie": "_ga=GA1.2.3; _gid=1"})
        assert xc(ga).startswith("HIT") and counter(ga) == counter(none), ga
        empty = srv.get("/c/x", headers={"Cookie": "currency="})
        assert xc(empty) == "MISS" and field(empty, "cookie") == "currency=", empty
        # stored pages tell downstream caches what they vary on
        assert "Cookie" in (a.header("vary") or ""), a
        m = srv.metrics()
        assert m["rustyssr_cache_bypass_total"] == 0, m


def test_bypass_cookie_still_bypasses_with_every_cookie():
    with server() as srv:
        assert xc(srv.get("/c/x", headers={"Cookie": "currency=EUR"})) == "MISS"
        r = srv.get("/c/x", headers={"Cookie": "currency=EUR; session=abc; _ga=1"})
        assert xc(r) == "BYPASS", r
        # a bypassed render is not stored and sees every cookie
        assert field(r, "cookie") == "currency=EUR; session=abc; _ga=1", r
        r2 = srv.get("/c/x", headers={"Cookie": "currency=EUR"})
        assert xc(r2).startswith("HIT"), r2
        # an empty session does not bypass
        assert xc(srv.get("/c/x", headers={"Cookie": "session=; currency=EUR"})).startswith("HIT")
        # a route naming no cookies keeps the safe default: any cookie bypasses
        assert xc(srv.get("/plain/x", headers={"Cookie": "_ga=1"})) == "BYPASS"
        # cookies = {}: the pages depend on no cookie; none bypasses, none reaches them
        n1 = srv.get("/none/x", headers={"Cookie": "_ga=1; currency=EUR"})
        n2 = srv.get("/none/x")
        assert xc(n1) == "MISS" and field(n1, "cookie") == "", n1
        assert xc(n2).startswith("HIT") and counter(n2) == counter(n1), n2
        assert "Cookie" not in (n1.header("vary") or ""), n1


def test_props_hook_sees_only_named_cookies_key_and_bypass_hooks_see_all():
    with server() as srv:
        r = srv.get("/p/x", headers={"Cookie": "_ga=secret; currency=EUR"})
        assert xc(r) == "MISS", r
        props = field(r, "props")
        assert '"currency":"EUR"' in props and '"cookie":"currency=EUR"' in props, props
        assert "secret" not in props and '"ga":""' in props, props
        # the key hook decides, so it sees every cookie: _ga splits its pages here
        k1 = srv.get("/k/x", headers={"Cookie": "_ga=1; currency=EUR"})
        k2 = srv.get("/k/x", headers={"Cookie": "_ga=2; currency=EUR"})
        k3 = srv.get("/k/x", headers={"Cookie": "_ga=1; currency=EUR"})
        assert xc(k1) == "MISS" and xc(k2) == "MISS" and xc(k3).startswith("HIT"), (k1, k2, k3)
        # ... and the named cookies still join the hook's key
        assert xc(srv.get("/k/x", headers={"Cookie": "_ga=1; currency=USD"})) == "MISS"
        # the bypass hook sees every cookie too
        assert xc(srv.get("/b/x", headers={"Cookie": "_ga=skip"})) == "BYPASS"
        assert xc(srv.get("/b/x", headers={"Cookie": "_ga=keep"})) == "MISS"


def test_cookies_config_errors():
    cases = [
        ('ssr.route("GET", "/a", { render = true, cookies = { "a b" } })', "'cookies' name"),
        ('ssr.route("GET", "/a", { render = true, cookies = { x = 1 } })', "'cookies' must be a list"),
        ('ssr.route("GET", "/a", { render = true, cookies = "a", cache_cookie = true })', "give one"),
        ('ssr.route("GET", "/a", { render = true, cookies = "a", headers = "Cookie" })', "'headers' names cookie"),
        ('ssr.route("GET", "/a", { respond = { status = 200 }, cookies = "a" })', "goes with 'render'"),
    ]
    for line, why in cases:
        srv = server(routes=line)
        rc, out = run_config_check(srv.config_path)
        assert rc == 1 and why in out and "rustyssr.lua:" in out, (line, rc, out)


if __name__ == "__main__":
    main([test_named_cookies_split_the_key_and_others_are_invisible,
          test_bypass_cookie_still_bypasses_with_every_cookie,
          test_props_hook_sees_only_named_cookies_key_and_bypass_hooks_see_all,
          test_cookies_config_errors])
