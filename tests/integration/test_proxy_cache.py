"""Proxy routes through the page cache: a proxy route that gives a ttl
answers GET and HEAD from the cache (X-Cache), its misses fetch the page from
the upstream (one fetch for concurrent misses), answers the upstream marks
no-store are never stored, requests with a cookie are streamed as they are,
and an upstream that is down gives 502."""

import json
import threading
import time

from rslib import SLOW, Reader, Server, free_port, main
from test_lua_fetch import BUNDLE, Backend


def make_server(backend):
    routes = r'''
ssr.route("GET", "/api/*", { proxy = { upstream = "api", path = "/" }, ttl = 60 })
ssr.route("GET", "/raw/*", { proxy = { upstream = "api", path = "/" } })
ssr.route("GET", "/down/*", { proxy = { upstream = "down", path = "/" }, ttl = 60 })
ssr.proxy("/short/", { upstream = "api", path = "/", ttl = 1, tags = { "short" } })
ssr.proxy("/cc/", { upstream = "api", path = "/", ttl = 60, cache_control = "public, max-age=30" })
ssr.route("GET", "/ck/*", { proxy = { upstream = "api", path = "/" }, ttl = 60, cookies = { "currency" } })
'''
    return Server(workers=2, config={
        "render": '{ bundle = "%s", threads = 1 }' % BUNDLE,
        "cache": "{ ttl = 60, grace = 30 }",
        "upstreams": '{ api = { servers = { "127.0.0.1:%d" } }, down = { servers = { "127.0.0.1:%d" } } }'
                     % (backend.port, free_port()),
    }, routes=routes)


def test_cached_proxy_cache_control():
    with Backend() as b, make_server(b) as srv:
        for x in ("MISS", "HIT"):
            r = srv.get("/cc/json")
            assert r.status == 200 and r.header("x-cache").startswith(x), r
            assert r.header("cache-control") == "public, max-age=30", r


def test_cached_proxy_named_cookies():
    with Backend() as b, make_server(b) as srv:
        r = srv.get("/ck/echoheaders", headers={"Cookie": "_ga=1; currency=EUR"})
        assert r.status == 200 and r.header("x-cache") == "MISS", r
        assert json.loads(r.body).get("cookie") == "currency=EUR", r     # only the named one
        r = srv.get("/ck/echoheaders", headers={"Cookie": "currency=EUR; _gid=2"})
        assert r.header("x-cache").startswith("HIT"), r                  # other cookies: the same page
        r = srv.get("/ck/echoheaders", headers={"Cookie": "currency=USD"})
        assert r.header("x-cache") == "MISS" and json.loads(r.body).get("cookie") == "currency=USD", r


def test_cached_proxy_hits_and_head():
    with Backend() as b, make_server(b) as srv:
        m = srv.get("/api/json?x=1")
        assert m.status == 200 and m.header("x-cache") == "MISS", (m, srv.log())
        assert json.loads(m.body)["name"] == "widget" and m.header("x-backend") == "yes", m
        h = srv.get("/api/json?x=1")
        assert h.status == 200 and h.header("x-cache").startswith("HIT") and h.body == m.body, h
        with srv.connect() as s:
            s.sendall(b"HEAD /api/json?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            hd = Reader(s).read_response(head_request=True)
        assert hd.status == 200 and hd.header("x-cache").startswith("HIT") and hd.body == b"", hd
        assert int(hd.header("content-length")) == len(m.body), hd
        assert b.hits["/json"] == 1, b.hits
        e = srv.get("/api/echoheaders")
        seen = json.loads(e.body)
        assert seen["x-forwarded-for"] == "127.0.0.1" and "cookie" not in seen, seen
        assert "accept-encoding" not in seen, seen


def test_cached_proxy_policy_and_bypass():
    with Backend() as b, make_server(b) as srv:
        for _ in range(2):
            n = srv.get("/api/nostore")
            assert n.status == 200 and n.header("x-cache") == "MISS", n
        assert b.hits["/nostore"] == 2, b.hits
        c = srv.get("/api/json", headers={"Cookie": "session=1"})
        assert c.status == 200 and c.header("x-cache") is None, c      # streamed, not looked up
        r = srv.get("/raw/json")
        assert r.status == 200 and r.header("x-cache") is None, r      # no ttl: never cached
        assert b.hits["/json"] == 2, b.hits
        d = srv.get("/down/x")
        assert d.status == 502, d
        assert "cached proxy: upstream down" in srv.log(), srv.log()


def test_ssr_proxy_with_ttl_and_default_grace():
    """ssr.proxy takes the cache policy keys; a proxy route that gives no
    grace gets cache.grace, as a render route does: past its ttl the page is
    served stale while one fetch refreshes it."""
    with Backend() as b, make_server(b) as srv:
        assert srv.get("/short/json").header("x-cache") == "MISS"
        assert srv.get("/short/json").header("x-cache").startswith("HIT")
        time.sleep(2.2)                      # past the 1 s ttl, well inside the 30 s grace
        st = srv.get("/short/json")
        assert st.status == 200 and st.header("x-cache") == "STALE", st
        r = srv.get("/purge?tag=short", port=srv.admin_port, method="POST")
        assert r.status == 200, r
        assert srv.get("/short/json").header("x-cache") == "MISS"


def test_cached_proxy_coalesces_misses():
    with Backend() as b, make_server(b) as srv:
        out = []

        def one():
            out.append(srv.get("/api/delay?ms=500"))
        ts = [threading.Thread(target=one) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30 * SLOW)
        assert len(out) == 6 and all(r.status == 200 for r in out), out
        assert b.hits["/delay"] == 1, b.hits


def test_both_proxy_paths_forward_alike():
    """The same request through a streamed proxy route (/raw/) and a cached
    one (/api/, a miss fetched for the cache): the upstream sees the same
    X-Forwarded-For / -Proto / -Host (an untrusted client's claims dropped)
    and X-Request-Id (a valid incoming one kept, else the request's id as 16
    hex digits)."""
    import re
    claims = {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
              "Host": "www.example.com:8080"}
    names = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")
    with Backend() as b, make_server(b) as srv:
        for n, (rid, want) in enumerate((("abc-123", "abc-123"), ("bad id", None))):
            seen = {}
            for prefix in ("/raw/", "/api/"):
                r = srv.get("%sechoheaders?case=%d" % (prefix, n), headers=dict(claims, **{"X-Request-Id": rid}))
                assert r.status == 200, (prefix, r, srv.log())
                if prefix == "/api/":
                    assert r.header("x-cache") == "MISS", r
                seen[prefix] = json.loads(r.body)
            raw, cached = seen["/raw/"], seen["/api/"]
            assert raw["x-forwarded-for"] == "127.0.0.1", raw
            assert raw["x-forwarded-proto"] == "http" and raw["x-forwarded-host"] == "www.example.com:8080", raw
            for k in names:
                assert raw.get(k) == cached.get(k), (k, raw, cached)
            for doc in (raw, cached):
                if want is not None:
                    assert doc["x-request-id"] == want, doc
                else:
                    assert re.fullmatch(r"[0-9a-f]{16}", doc["x-request-id"]), doc


if __name__ == "__main__":
    main([test_cached_proxy_cache_control, test_cached_proxy_named_cookies, test_cached_proxy_hits_and_head, test_ssr_proxy_with_ttl_and_default_grace, test_cached_proxy_policy_and_bypass, test_cached_proxy_coalesces_misses,
          test_both_proxy_paths_forward_alike])
