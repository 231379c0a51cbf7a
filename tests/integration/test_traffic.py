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
ssr.route("GET", "/t/*", { render = true, tags = { "t1", "t2" }, headers = "X-Theme", cookies = "currency" })
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


def test_tags_headers_and_cookies_together():
    # every list of the route's policy in one block, none over another
    with server() as srv:
        r = srv.get("/t/x", headers={"Cookie": "currency=EUR", "X-Theme": "dark"})
        assert xc(r) == "MISS" and field(r, "cookie") == "currency=EUR", r
        assert (r.header("vary") or "").find("x-theme, Cookie") >= 0, r
        raw = b"POST /purge?tag=t2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        p = srv.request(raw, port=srv.admin_port)
        assert p.status == 200 and b'"purged": 1' in p.body, p
    # -T lists each as given
    import subprocess
    from rslib import BIN
    out = subprocess.run([BIN, "-T", "-c", srv.config_path], stdout=subprocess.PIPE).stdout.decode()
    line = [l for l in out.splitlines() if '"/t/*"' in l][0]
    assert 'tags = { "t1", "t2", }, headers = { "x-theme", }, cookies = { "currency", }' in line, line


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


# ------------------------------------------------------------------ deploys and soft purges

DEPLOY_ROUTES = r'''
ssr.route("GET", "/d/*", { render = true, tags = { "d" }, cookies = {} })
ssr.route("GET", "/count", { render = { cache = false } })
ssr.route("POST", "/hook/purge", function(req)
  local sel = { stale = true }
  for k, v in pairs(req.query) do sel[k] = v end
  if sel.all then sel.all = true end
  local n, err = ssr.purge(sel)
  if not n then return 503, "error: " .. err end
  return 200, "purged " .. n
end)
'''


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def deploy_server(cache="{ ttl = 60, grace = 30 }", version="v1"):
    srv = Server(workers=2, config={"render": '{ bundle = "bundle.js", threads = 1 }', "cache": cache},
                 routes=DEPLOY_ROUTES)
    write_bundle(srv, version)
    return srv


def write_bundle(srv, version):
    with open(BUNDLE) as f:
        src = f.read()
    write_file(os.path.join(srv.dir, "bundle.js"), src.replace('VERSION = "v1"', 'VERSION = "%s"' % version))


def reload(srv, timeout=20.0):
    ok0 = srv.log().count(": reloaded ")
    srv.signal(signal.SIGHUP)
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if srv.log().count(": reloaded ") > ok0:
            return
        assert "reload failed" not in srv.log(), srv.log()
        time.sleep(0.02)
    raise AssertionError("no reload:\n" + srv.log())


def renders(srv):
    return int(field(srv.get("/count"), "count"))


def admin_purge(srv, query):
    raw = "POST /purge?%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % query
    return srv.request(raw.encode(), port=srv.admin_port)


def wait_fresh(srv, path, old, timeout=10.0):
    """Poll until path is a HIT with another render than old; return it."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        r = srv.get(path)
        assert r.status == 200, r
        if xc(r).startswith("HIT") and counter(r) != old:
            return r
        time.sleep(0.02)
    raise AssertionError("%s never refreshed:\n%s" % (path, srv.log()))


def test_soft_purge_every_selector():
    sels = [("url=/d/a&host=localhost", "/d/a"), ("key=GET%20localhost/d/b", "/d/b"),
            ("prefix=GET%20localhost/d/c", "/d/c1"), ("tag=d", "/d/t"), ("all=1", "/d/all")]
    with deploy_server() as srv:
        for q, path in sels:
            first = srv.get(path)
            assert xc(first) == "MISS", first
            assert xc(srv.get(path)).startswith("HIT")
            r = admin_purge(srv, q + "&stale=1")
            assert r.status == 200 and b'"stale": true' in r.body, (q, r)
            assert int(re.search(rb'"purged": (\d+)', r.body).group(1)) >= 1, (q, r)
            # still there: answered at once from the stale page, one refresh behind it
            st = srv.get(path)
            assert xc(st) in ("STALE",) or (xc(st).startswith("HIT") and counter(st) != counter(first)), (q, st)
            wait_fresh(srv, path, counter(first))
        # ssr.purge { ..., stale = true } from Lua
        first = srv.get("/d/lua")
        r = srv.request(b"POST /hook/purge?tag=d HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n")
        assert r.status == 200 and r.body.startswith(b"purged "), r
        st = srv.get("/d/lua")
        assert xc(st) == "STALE" and counter(st) == counter(first), st
        wait_fresh(srv, "/d/lua", counter(first))
        assert "marked stale" in srv.log(), srv.log()
        # a bad stale= is refused
        assert admin_purge(srv, "tag=d&stale=yes").status == 400
        assert srv.metrics()["rustyssr_cache_softened_total"] >= 6


def test_soft_purge_without_grace_is_a_miss():
    with deploy_server(cache="{ ttl = 60, grace = 0 }") as srv:
        first = srv.get("/d/x")
        assert admin_purge(srv, "tag=d&stale=1").status == 200
        r = srv.get("/d/x")
        assert xc(r) == "MISS" and counter(r) != counter(first), r


def test_deploy_marks_pages_stale_each_rerendered_once_under_load():
    pages = ["/d/p%d" % i for i in range(16)]
    with deploy_server() as srv:
        for p in pages:
            assert field(srv.get(p), "v") == "v1"
        base = renders(srv)
        assert base == len(pages), base
        write_bundle(srv, "v2")
        reload(srv)
        assert "page(s) of older bundles marked stale" in srv.log(), srv.log()
        assert renders(srv) == 0           # the new bundle's isolate: nothing rendered yet
        results, errors = [], []
        stop = time.time() + 1.5 * SLOW

        def hammer(k):
            try:
                while time.time() < stop:
                    for p in pages[k % 4:] + pages[:k % 4]:
                        r = srv.get(p)
                        results.append((p, r.status, xc(r), field(r, "v")))
            except Exception as e:      # noqa: BLE001 — reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=hammer, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert results and all(s == 200 for _, s, _, _ in results), [r for r in results if r[1] != 200][:5]
        assert any(x == "STALE" and v == "v1" for _, _, x, v in results), results[:20]
        # every page now from the new bundle, each rendered exactly once by it
        for p in pages:
            r = srv.get(p)
            assert field(r, "v") == "v2" and xc(r).startswith("HIT"), r
        assert renders(srv) == len(pages), (renders(srv), srv.log())
        # no herd: the old bundle's pages answered while their one refresh ran
        stale = sum(1 for _, _, x, _ in results if x == "STALE")
        assert stale >= 1, stale


def test_on_new_bundle_keep_purge_and_same_bytes():
    with deploy_server(cache='{ ttl = 60, grace = 30, on_new_bundle = "keep" }') as srv:
        first = srv.get("/d/x")
        write_bundle(srv, "v2")
        reload(srv)
        r = srv.get("/d/x")
        assert xc(r).startswith("HIT") and field(r, "v") == "v1", r
    with deploy_server(cache='{ ttl = 60, grace = 30, on_new_bundle = "purge" }') as srv:
        srv.get("/d/x")
        write_bundle(srv, "v2")
        reload(srv)
        r = srv.get("/d/x")
        assert xc(r) == "MISS" and field(r, "v") == "v2", r
        assert "page(s) of older bundles purged" in srv.log(), srv.log()
    with deploy_server() as srv:
        first = srv.get("/d/x")
        reload(srv)                 # the same bytes: not a new bundle, nothing stale
        r = srv.get("/d/x")
        assert xc(r).startswith("HIT") and counter(r) == counter(first), r
        assert "older bundles" not in srv.log(), srv.log()


def test_cache_version_joins_the_key():
    with deploy_server(cache='{ ttl = 60, grace = 30, version = "a1" }') as srv:
        first = srv.get("/d/x")
        assert xc(srv.get("/d/x")).startswith("HIT")
        cfg = open(srv.config_path).read().replace('version = "a1"', 'version = "b2"')
        write_file(srv.config_path, cfg)
        reload(srv)
        r = srv.get("/d/x")           # a new version: a new key (the reload restarted the counter)
        assert xc(r) == "MISS" and xc(first) == "MISS", (first, r)
        # purges by URL still find versioned pages (both versions' pages)
        r = admin_purge(srv, "url=/d/x&host=localhost")
        assert r.status == 200 and b'"purged": 2' in r.body, r
    # version = "bundle": the bundle's own id; a deploy is a new set of keys
    with deploy_server(cache='{ ttl = 60, grace = 30, version = "bundle", on_new_bundle = "keep" }') as srv:
        assert xc(srv.get("/d/x")) == "MISS" and xc(srv.get("/d/x")).startswith("HIT")
        reload(srv)                  # the same bytes: the same keys
        assert xc(srv.get("/d/x")).startswith("HIT")
        write_bundle(srv, "v2")
        reload(srv)
        r = srv.get("/d/x")
        assert xc(r) == "MISS" and field(r, "v") == "v2", r
    for bad, why in (('{ on_new_bundle = "drop" }', "'cache.on_new_bundle' must be"),
                     ('{ version = 3 }', "'cache.version' must be")):
        srv = Server(config={"cache": bad})
        rc, out = run_config_check(srv.config_path, test=False)
        assert rc == 1 and why in out, (bad, rc, out)


# ------------------------------------------------------------------ downstream caching headers

CC_ROUTES = r'''
ssr.route("GET", "/cc/*", { render = true, cache_control = "public, max-age=60", cookies = {},
  bypass = { cookie = "session" } })
ssr.route("GET", "/sm/*", { render = true, s_maxage = 300, stale_while_revalidate = 30 })
ssr.route("GET", "/both/*", { render = true, cache_control = "public, max-age=10", s_maxage = 600 })
ssr.route("GET", "/none/*", { render = true })
'''


def test_cache_control_on_the_wire_and_canonical_names():
    with server(routes=CC_ROUTES) as srv:
        for _ in range(2):           # the miss and the hit carry the same
            r = srv.get("/cc/x")
            assert r.header("cache-control") == "public, max-age=60", r
        assert srv.get("/sm/x").header("cache-control") == "public, s-maxage=300, stale-while-revalidate=30"
        assert srv.get("/both/x").header("cache-control") == "public, max-age=10, s-maxage=600"
        assert srv.get("/none/x").header("cache-control") is None
        # the bundle's own Cache-Control wins (and it is the only one)
        r = srv.get("/cc/own?cc=max-age%3D5")
        assert [k for k, _ in r.headers].count("cache-control") == 1 and r.header("cache-control") == "max-age=5", r
        # a bypassed (personal) page is private to downstream caches
        b = srv.get("/cc/x", headers={"Cookie": "session=1"})
        assert xc(b) == "BYPASS" and b.header("cache-control") == "private", b
        # rendered pages' header names as every other answer spells them
        r = srv.get("/none/h?hdr=1")
        head = r.raw_head.decode()
        assert "\r\nContent-Type: text/html; charset=utf-8\r\n" in head, head
        assert "\r\nX-Frame-Options: DENY\r\n" in head, head
        assert "content-type:" not in head and "x-frame-options:" not in head, head


def test_cache_control_config_errors():
    for line, why in (('ssr.route("GET", "/a", { render = true, cache_control = "" })', "'cache_control' must be"),
                      ('ssr.route("GET", "/a", { render = true, cache_control = "a\\nb" })', "not allowed"),
                      ('ssr.route("GET", "/a", { render = true, s_maxage = -1 })', "'s_maxage'"),
                      ('ssr.route("GET", "/a", { static = { root = "." }, cache_control = "x" })',
                       "goes with 'render'")):
        srv = server(routes=line)
        rc, out = run_config_check(srv.config_path)
        assert rc == 1 and why in out, (line, rc, out)


# ------------------------------------------------------------------ error pages

ERR_ROUTES = r'''
ssr.route("GET", "/r/*", { render = true })
ssr.route("GET", "/boom/*", { render = true, error_page = { [500] = "/oops" } })
ssr.route("GET", "/broken/*", { render = true, error_page = { [500] = "/broken-error-page" } })
ssr.static("/files/", { root = ".", error_page = { [404] = "nf.html" } })
ssr.route("GET", "/up/*", { proxy = { upstream = "down" } })
ssr.route("GET", "/count", { render = { cache = false } })
'''


def err_server():
    from rslib import free_port
    srv = server(routes=ERR_ROUTES, extra={
        "error_page": '{ [404] = "/404", [502] = "50x.html" }',
        "upstreams": '{ down = { servers = { "127.0.0.1:%d" } } }' % free_port()})
    write_file(os.path.join(srv.dir, "nf.html"), "<p>no such file</p>\n")
    write_file(os.path.join(srv.dir, "50x.html"), "<p>upstream trouble</p>\n")
    return srv


def test_error_pages():
    with err_server() as srv:
        # no route: the config's [404] = "/404", rendered once and kept
        a = srv.get("/nowhere")
        assert a.status == 404 and b"<h1>/404</h1>" in a.body and xc(a) == "MISS", a
        b = srv.get("/elsewhere?x=1")
        assert b.status == 404 and b"<h1>/404</h1>" in b.body and xc(b) == "HIT", b
        assert counter(a) == counter(b), (a, b)
        with srv.connect() as s:
            s.sendall(b"HEAD /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            from rslib import Reader
            h = Reader(s).read_response(head_request=True)
        assert h.status == 404 and h.body == b"", h
        # a render that fails: the route's [500] = "/oops", the status kept
        r = srv.get("/boom/x?throw=1")
        assert r.status == 500 and b"<h1>/oops</h1>" in r.body, r
        # an error page whose own render fails: the plain page
        r = srv.get("/broken/x?throw=1")
        assert r.status == 500 and b"<h1>/" not in r.body, r
        assert "error_page: the render of /broken-error-page for a 500 failed" in srv.log(), srv.log()
        # a static route's own file page
        r = srv.get("/files/none.txt")
        assert r.status == 404 and r.body == b"<p>no such file</p>\n", r
        assert r.header("content-type") == "text/html; charset=utf-8", r
        # the config's file for 502 (upstream down)
        r = srv.get("/up/x")
        assert r.status == 502 and r.body == b"<p>upstream trouble</p>\n", r
        # the bundle's own 404 is its own, cached as cache_statuses allow
        m1 = srv.get("/r/missing/thing")
        m2 = srv.get("/r/missing/thing")
        assert m1.status == 404 and b"<h1>/r/missing/thing</h1>" in m1.body and xc(m1) == "MISS", m1
        assert m2.status == 404 and xc(m2).startswith("HIT"), m2
        # a purge by URL finds the kept error page
        raw = b"POST /purge?url=/404&host=localhost HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        p = srv.request(raw, port=srv.admin_port)
        assert p.status == 200 and b'"purged": 1' in p.body, p


def test_error_page_config_errors():
    for conf, why in (('{ [200] = "/x" }', "keys must be statuses between 300 and 599"),
                      ('{ [404] = "missing.html" }', "missing.html"),
                      ('{ [404] = "/a b" }', "a path to render has no space"),
                      ('{ [404] = 5 }', "must be a path to render"),
                      ('"x"', "'error_page' must be a table")):
        srv = Server(config={"error_page": conf})
        rc, out = run_config_check(srv.config_path)
        assert rc == 1 and why in out and "rustyssr.lua:" in out, (conf, rc, out)
    srv = server(routes='ssr.route("GET", "/a", { render = true, error_page = { [404] = "nope.html" } })')
    rc, out = run_config_check(srv.config_path)
    assert rc == 1 and "nope.html" in out, (rc, out)


if __name__ == "__main__":
    main([test_named_cookies_split_the_key_and_others_are_invisible,
          test_bypass_cookie_still_bypasses_with_every_cookie,
          test_props_hook_sees_only_named_cookies_key_and_bypass_hooks_see_all,
          test_tags_headers_and_cookies_together,
          test_cookies_config_errors,
          test_soft_purge_every_selector,
          test_soft_purge_without_grace_is_a_miss,
          test_deploy_marks_pages_stale_each_rerendered_once_under_load,
          test_on_new_bundle_keep_purge_and_same_bytes,
          test_cache_version_joins_the_key,
          test_cache_control_on_the_wire_and_canonical_names,
          test_cache_control_config_errors,
          test_error_pages,
          test_error_page_config_errors])
