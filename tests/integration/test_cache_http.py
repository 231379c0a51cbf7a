"""The page cache over real sockets: one render for a herd, X-Cache tiers,
ETag → 304, Accept-Encoding variants, HEAD, Age, stale-while-revalidate,
stale-if-error, what is never stored, bypass, purges reaching every L1."""

import gzip
import os
import re
import socket
import threading
import time
import urllib.parse

from rslib import SLOW, TESTS, Reader, Server, main, wait_for

BUNDLE = os.path.join(TESTS, "js", "it_cache.js")

try:
    import brotli  # optional: only to decode br bodies when present
except ImportError:  # pragma: no cover
    brotli = None


def server(workers=1, cache="{ ttl = 60, grace = 10 }", render_threads=1, routes=None, **kw):
    return Server(
        workers=workers,
        config={"render": '{ bundle = "%s", threads = %d, timeout_ms = 5000 }' % (BUNDLE, render_threads),
                "cache": cache},
        routes=routes or 'ssr.route("GET", "/*", { render = true })',
        **kw)


def renders(srv):
    return srv.metrics()['rustyssr_renders_total{outcome="ok"}'] + \
        srv.metrics()['rustyssr_renders_total{outcome="error"}']


def n_in(body):
    m = re.search(rb"<p id=n>(\d+)</p>", body)
    assert m, body[:200]
    return int(m.group(1))


def get(srv, path, headers=None, method="GET"):
    return srv.get(path, headers=headers, method=method)


def test_miss_then_hits_l1_and_l2():
    with server() as srv:
        r = get(srv, "/a")
        assert r.status == 200 and r.header("x-cache") == "MISS", r
        r2 = get(srv, "/a")
        assert r2.header("x-cache") == "HIT-L1", r2
        assert r2.body == r.body
        assert renders(srv) == 1
    # With no L1 at all, hits come from L2.
    with server(cache="{ ttl = 60, l1 = { hot = 0, entries = 0 } }") as srv:
        assert get(srv, "/a").header("x-cache") == "MISS"
        assert get(srv, "/a").header("x-cache") == "HIT-L2"
        m = srv.metrics()
        assert m["rustyssr_cache_hits_l2_total"] == 1 and m["rustyssr_cache_misses_total"] == 1, m


def test_herd_of_200_renders_once():
    with server(workers=2) as srv:
        results = []
        lock = threading.Lock()
        start = threading.Event()

        def one():
            s = srv.connect(timeout=30)
            start.wait()
            s.sendall(b"GET /slow/herd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r = Reader(s).read_response()
            s.close()
            with lock:
                results.append(r)

        ts = [threading.Thread(target=one) for _ in range(200)]
        for t in ts:
            t.start()
        time.sleep(0.3)
        start.set()
        for t in ts:
            t.join(60)
        assert len(results) == 200
        assert all(r.status == 200 for r in results), [r for r in results if r.status != 200][:3]
        bodies = {r.body for r in results}
        assert len(bodies) == 1, "the herd saw different pages"
        m = srv.metrics()
        assert m['rustyssr_renders_total{outcome="ok"}'] == 1, m
        assert m["rustyssr_cache_coalesced_total"] >= 1, m


def test_etag_304_and_head_and_age():
    with server() as srv:
        r = get(srv, "/e")
        etag = r.header("etag")
        assert etag and etag.startswith('"') and r.header("vary") == "Accept-Encoding", r
        r304 = get(srv, "/e", {"If-None-Match": etag})
        assert r304.status == 304 and r304.body == b"" and r304.header("etag") == etag, r304
        assert get(srv, "/e", {"If-None-Match": 'W/%s, "other"' % etag}).status == 304
        assert get(srv, "/e", {"If-None-Match": '"nope"'}).status == 200
        with srv.connect() as s:
            s.sendall(b"HEAD /e HTTP/1.1\r\nHost: localhost\r\n\r\nGET /tiny HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            h = rd.read_response(head_request=True)
            assert h.status == 200 and int(h.header("content-length")) == len(r.body), h
            assert rd.read_response().body.startswith(b"ok")
        # Age counts whole seconds on each loop's clock, which ticks once a
        # second: after 2.2 s it is at least 1 whatever the phase.
        time.sleep(2.2)
        assert int(get(srv, "/e").header("age")) >= 1
        assert srv.metrics()["rustyssr_cache_not_modified_total"] == 2


def wait_encoding(srv, path, accept, want, timeout=10.0):
    """The first answer for path carrying Content-Encoding want: a page
    stored with variants deferred gets them from a background job."""
    deadline = time.time() + timeout * SLOW
    while True:
        r = get(srv, path, {"Accept-Encoding": accept})
        if r.header("content-encoding") == want or time.time() > deadline:
            return r
        time.sleep(0.05)


def test_deferred_variants():
    """A miss builds only the variant its client takes; the others are built
    off the loop when a client first asks for one, and replace the page."""
    with server() as srv:
        miss = get(srv, "/d", {"Accept-Encoding": "identity"})
        assert miss.header("x-cache") == "MISS" and miss.header("content-encoding") is None, miss
        assert miss.header("vary") == "Accept-Encoding", miss   # it will vary
        first = get(srv, "/d", {"Accept-Encoding": "gzip"})   # not built yet: identity
        assert first.header("content-encoding") is None and first.body == miss.body, first
        gz = wait_encoding(srv, "/d", "gzip", "gzip")
        assert gz.header("content-encoding") == "gzip", gz
        assert gzip.decompress(gz.body) == miss.body
        assert gz.header("etag") == miss.header("etag")
        br = get(srv, "/d", {"Accept-Encoding": "br"})   # built by the same job
        assert br.header("content-encoding") == "br", br
        if brotli is not None:
            assert brotli.decompress(br.body) == miss.body
        # A miss from a client that takes br is answered in br at once.
        m2 = get(srv, "/d2", {"Accept-Encoding": "gzip, br"})
        assert m2.header("x-cache") == "MISS" and m2.header("content-encoding") == "br", m2
        # Completing a page is no render: the page was rendered once each.
        assert srv.metrics()["rustyssr_cache_misses_total"] == 2


def test_accept_encoding_variants():
    with server() as srv:
        ident = get(srv, "/v", {"Accept-Encoding": "identity"})
        assert ident.header("content-encoding") is None
        gz = wait_encoding(srv, "/v", "gzip", "gzip")
        assert gz.header("content-encoding") == "gzip", gz
        assert gzip.decompress(gz.body) == ident.body
        br = get(srv, "/v", {"Accept-Encoding": "gzip, deflate, br"})
        assert br.header("content-encoding") == "br", br
        assert len(br.body) < len(gz.body) < len(ident.body)
        if brotli is not None:
            assert brotli.decompress(br.body) == ident.body
        assert get(srv, "/v", {"Accept-Encoding": "br;q=0, gzip"}).header("content-encoding") == "gzip"
        assert get(srv, "/v", {"Accept-Encoding": "gzip;q=0, br;q=0"}).header("content-encoding") is None
        assert get(srv, "/v", {"Accept-Encoding": "*"}).header("content-encoding") in ("br", "gzip")
        assert get(srv, "/v").header("content-encoding") is None
        # A tiny page is kept identity only.
        t = get(srv, "/tiny", {"Accept-Encoding": "br, gzip"})
        assert t.header("content-encoding") is None and t.body.startswith(b"ok"), t


def test_query_order_shares_a_page():
    with server() as srv:
        a = get(srv, "/q?a=1&b=2")
        b = get(srv, "/q?b=2&a=1")
        assert a.header("x-cache") == "MISS" and b.header("x-cache").startswith("HIT"), (a, b)
        assert get(srv, "/q?a=1&b=3").header("x-cache") == "MISS"


def test_stale_while_revalidate():
    with server(cache="{ ttl = 1, grace = 30 }") as srv:
        first = get(srv, "/swr")
        n1 = n_in(first.body)
        time.sleep(1.3)
        stale = get(srv, "/swr")
        assert stale.header("x-cache") == "STALE", stale
        assert n_in(stale.body) == n1  # served at once, the old page
        deadline = time.time() + 5 * SLOW
        while True:  # the background refresh lands
            r = get(srv, "/swr")
            if r.header("x-cache").startswith("HIT") and n_in(r.body) > n1:
                break
            assert time.time() < deadline, r
            time.sleep(0.05)
        assert srv.metrics()["rustyssr_cache_stale_total"] >= 1


def test_misses_go_before_background_refreshes():
    """One render thread: three stale hits queue three refreshes (the first
    runs, 1 s, the render thread took it), then a miss arrives. The miss
    must be rendered right after the running refresh, before the two
    waiting ones: the bundle's render counter in its page says in which
    order they ran."""
    with server(cache="{ ttl = 1, grace = 30 }") as srv:
        for p in ("/slow/a?ms=1000", "/slow/b", "/slow/c"):
            assert get(srv, p).status == 200
        assert n_in(get(srv, "/slow/c").body) == 3
        time.sleep(1.3)
        for p in ("/slow/a?ms=1000", "/slow/b", "/slow/c"):
            r = get(srv, p)
            assert r.header("x-cache") == "STALE", r
            if p == "/slow/a?ms=1000":
                # Its refresh is queued before the stale page is answered;
                # the render thread takes it soon after, not at once (on a
                # loaded machine a miss queued first rightly went first,
                # render #4): wait until it runs (1 s), the others queue
                # behind it.
                wait_for("the render thread to take the first refresh",
                         lambda: srv.metrics()["rustyssr_render_queue_depth"] == 0)
        miss = get(srv, "/slow/new")
        assert miss.header("x-cache") == "MISS", miss
        assert n_in(miss.body) == 5, "the miss waited behind refreshes: render #%d" % n_in(miss.body)


def test_stale_if_error():
    with server(cache="{ ttl = 1, grace = 30 }") as srv:
        good = get(srv, "/flaky")
        assert good.status == 200
        assert get(srv, "/control?fail=1", {"Cookie": "admin=1"}).body == b"failing=true"
        time.sleep(1.3)
        for _ in range(5):  # refreshes fail; the stale page keeps being served
            r = get(srv, "/flaky")
            assert r.status == 200 and r.header("x-cache") == "STALE" and r.body == good.body, r
            time.sleep(0.2)
        m = srv.metrics()
        assert m["rustyssr_cache_refresh_failed_total"] >= 1, m
        assert "backend down" in srv.log()


def test_never_stored():
    with server() as srv:
        for path in ("/cookie", "/private", "/nostore", "/teapot"):
            a = get(srv, path)
            b = get(srv, path)
            assert a.header("x-cache") == "MISS" and b.header("x-cache") == "MISS", (path, a, b)
            assert n_in(b.body) == n_in(a.body) + 1, path
        assert get(srv, "/cookie").header("set-cookie") == "sid=1"
        # 404 is stored (negative caching, as Varnish does).
        get(srv, "/gone")
        assert get(srv, "/gone").header("x-cache").startswith("HIT")
        assert srv.metrics()["rustyssr_cache_uncacheable_total"] >= 8


def test_bypass_authorization_and_cookie():
    with server() as srv:
        get(srv, "/p")
        for h in ({"Authorization": "Bearer x"}, {"Cookie": "sid=2"}):
            r = get(srv, "/p", h)
            assert r.header("x-cache") == "BYPASS", r
        assert renders(srv) == 3
        assert srv.metrics()["rustyssr_cache_bypass_total"] == 2


def test_bundle_ttl():
    with server(cache="{ ttl = 60, grace = 0 }") as srv:
        get(srv, "/ttl1")
        assert get(srv, "/ttl1").header("x-cache").startswith("HIT")
        time.sleep(1.3)
        assert get(srv, "/ttl1").header("x-cache") == "MISS"


def purge(srv, data):
    body = urllib.parse.urlencode(data).encode()
    raw = b"POST /purge HTTP/1.1\r\nHost: admin\r\nContent-Type: application/x-www-form-urlencoded\r\n" \
          b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    return srv.request(raw, port=srv.admin_port)


def warm_both_loops(srv, path):
    """Hit path from many connections so both loops' L1 hold it."""
    seen = set()
    for _ in range(40):
        r = get(srv, path)
        seen.add(r.header("x-cache"))
    return seen


def test_purges_reach_every_l1():
    with server(workers=2) as srv:
        seen = warm_both_loops(srv, "/tagged?id=7")
        assert "HIT-L1" in seen, seen
        assert renders(srv) == 1
        # by URL
        r = srv.request(b"PURGE /tagged?id=7 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                        port=srv.admin_port)
        assert r.status == 200 and b'"purged": 1' in r.body, r
        after = [get(srv, "/tagged?id=7").header("x-cache") for _ in range(20)]
        assert after[0] == "MISS" and after.count("MISS") == 1, after
        assert renders(srv) == 2
        # by tag
        warm_both_loops(srv, "/tagged?id=7")
        r = purge(srv, {"tag": "product-7"})
        assert b'"purged": 1' in r.body, r
        assert get(srv, "/tagged?id=7").header("x-cache") == "MISS"
        # by prefix and by key
        get(srv, "/pre/a"), get(srv, "/pre/b"), get(srv, "/other")
        r = purge(srv, {"prefix": "GET localhost/pre/"})
        assert b'"purged": 2' in r.body, r
        assert get(srv, "/other").header("x-cache").startswith("HIT")
        r = purge(srv, {"key": "GET localhost/other"})
        assert b'"purged": 1' in r.body, r
        # all
        warm_both_loops(srv, "/x1")
        r = purge(srv, {"all": "1"})
        assert r.status == 200 and srv.metrics()["rustyssr_cache_entries"] == 0, r
        assert [get(srv, "/x1").header("x-cache") for _ in range(10)].count("MISS") == 1
        assert purge(srv, {}).status == 400


def test_metrics_present():
    with server() as srv:
        get(srv, "/m")
        get(srv, "/m")
        m = srv.metrics()
        for k in ("rustyssr_cache_lookups_total", "rustyssr_cache_hits_l1_total", "rustyssr_cache_hits_l2_total",
                  "rustyssr_cache_misses_total", "rustyssr_cache_inserts_total", "rustyssr_cache_entries",
                  "rustyssr_cache_bytes", "rustyssr_cache_hit_ratio", "rustyssr_cache_evictions_total"):
            assert k in m, k
        assert m["rustyssr_cache_hit_ratio"] == 0.5, m["rustyssr_cache_hit_ratio"]
        assert m["rustyssr_cache_inserts_total"] == 1 and m["rustyssr_cache_entries"] == 1


if __name__ == "__main__":
    main([test_miss_then_hits_l1_and_l2, test_deferred_variants, test_herd_of_200_renders_once, test_etag_304_and_head_and_age,
          test_accept_encoding_variants, test_query_order_shares_a_page, test_stale_while_revalidate,
          test_misses_go_before_background_refreshes, test_stale_if_error, test_never_stored, test_bypass_authorization_and_cookie, test_bundle_ttl,
          test_purges_reach_every_l1, test_metrics_present])
