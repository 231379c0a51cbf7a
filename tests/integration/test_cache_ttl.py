"""Stored TTLs over real sockets: cache.ttl_jitter spreads the expiry of
pages stored together within its bound (each page's lifetime, from its
render to the first MISS after it, is in [ttl x (1 - jitter), ttl]), and
cache.prefresh refreshes a hot page once, in the background, before it
expires (no request ever waits for it). Plus the keys' checks at load
(file:line) and their -T lines."""

import os
import subprocess
import threading
import time

from rslib import BIN, SLOW, TESTS, Reader, Server, main, run_config_check

BUNDLE = os.path.join(TESTS, "js", "it_cache.js")


def server(cache):
    return Server(
        workers=2,
        config={"render": '{ bundle = "%s", threads = 1, timeout_ms = 5000 }' % BUNDLE, "cache": cache},
        routes='ssr.route("GET", "/*", { render = true })')


def renders(srv):
    m = srv.metrics()
    return m['rustyssr_renders_total{outcome="ok"}'] + m['rustyssr_renders_total{outcome="error"}']


def lifetimes(srv, n, ttl, limit):
    """Store n pages at once, then ask for each in turn until each is a MISS
    again (grace 0): seconds from each page's answer to its first MISS."""
    paths = ["/j/%d" % i for i in range(n)]
    born = {}
    for p in paths:
        r = srv.get(p)
        assert r.header("x-cache") == "MISS", r
        born[p] = time.time()
    died = {}
    deadline = time.time() + limit
    while len(died) < n:
        assert time.time() < deadline, "pages still fresh after %.1f s: %r" % (limit, set(paths) - set(died))
        for p in paths:
            if p in died:
                continue
            t0 = time.time()
            r = srv.get(p)
            assert r.status == 200, r
            if r.header("x-cache") == "MISS":
                died[p] = t0 - born[p]   # it had expired before we asked
        time.sleep(0.01)
    return sorted(died.values())


def test_ttl_jitter_spreads_expiry_within_bound():
    ttl, jitter = 2.0, 0.5
    with server("{ ttl = 2, grace = 0, ttl_jitter = 0.5, prefresh = false }") as srv:
        life = lifetimes(srv, 16, ttl, 10 * SLOW)
    # Never longer than the TTL (the polling adds its own lateness), never
    # shorter than ttl x (1 - jitter).
    late = 0.4 * SLOW
    assert life[0] >= ttl * (1 - jitter) - 0.05, life
    assert life[-1] <= ttl + late, life
    # Spread: 16 uniform draws over 1 s span well over 0.3 s (the chance of
    # less is about 1e-7).
    assert life[-1] - life[0] > 0.3, life


def test_no_jitter_expires_together():
    """The control: ttl_jitter = 0 stores the TTL as given."""
    with server("{ ttl = 1, grace = 0, ttl_jitter = 0, prefresh = false }") as srv:
        life = lifetimes(srv, 8, 1.0, 10 * SLOW)
    assert life[0] >= 1.0 - 0.05, life
    assert life[-1] <= 1.0 + 0.4 * SLOW, life


def test_prefresh_refreshes_a_hot_page_once_in_background():
    """/slow/ pages take 300 ms to render: the hits of the burst below all
    come while the refresh runs, so each answered with the page as it was
    did not wait for it."""
    with server("{ ttl = 3, grace = 0, ttl_jitter = 0, prefresh = 0.5 }") as srv:
        first = srv.get("/slow/hot")
        assert first.header("x-cache") == "MISS", first
        born = time.time()
        body = first.body
        assert srv.get("/slow/hot").header("x-cache").startswith("HIT")
        # The burst's connections are open before: its requests all leave
        # within a millisecond of each other, none waits for a thread or a
        # connect of the client's (on a loaded machine twenty threads that
        # each connected could take longer than the refresh, and a hit that
        # came after it rightly had the new page).
        conns = [srv.connect() for _ in range(20)]
        time.sleep(max(0.0, born + 1.6 - time.time()))   # past 1.5 s: the refresh is due
        assert renders(srv) == 1
        # A burst of hits on both loops: one of them starts the refresh; every
        # one is answered at once with the page as it is.
        for s in conns:
            s.sendall(b"GET /slow/hot HTTP/1.1\r\nHost: localhost\r\n\r\n")
        results = [Reader(s).read_response() for s in conns]
        for s in conns:
            s.close()
        for r in results:
            assert r.status == 200 and r.header("x-cache") in ("HIT-L1", "HIT-L2"), r
            assert r.body == body, "a hit waited for the refresh"
        # The refresh lands before the page would have expired (3 s).
        while True:
            r = srv.get("/slow/hot")
            assert r.header("x-cache") != "MISS", r
            if r.body != body:
                break
            assert time.time() < born + 2.9, "no refresh ahead of the expiry"
            time.sleep(0.02)
        assert renders(srv) == 2, "refreshed more than once"
        m = srv.metrics()
        assert m["rustyssr_cache_prefreshes_total"] == 1, m
        assert m["rustyssr_cache_misses_total"] == 1, m
        # Past the first page's expiry: still a hit (the refreshed page's TTL).
        time.sleep(max(0.0, born + 3.2 - time.time()))
        r = srv.get("/slow/hot")
        assert r.header("x-cache") in ("HIT-L1", "HIT-L2"), r


def test_prefresh_off_lets_the_page_expire():
    with server("{ ttl = 1, grace = 0, ttl_jitter = 0, prefresh = false }") as srv:
        assert srv.get("/cold").header("x-cache") == "MISS"
        t_end = time.time() + 0.9
        while time.time() < t_end:
            assert srv.get("/cold").header("x-cache").startswith("HIT")
            time.sleep(0.05)
        time.sleep(0.3)
        assert srv.get("/cold").header("x-cache") == "MISS"
        assert srv.metrics()["rustyssr_cache_prefreshes_total"] == 0


def test_prefresh_only_with_spare_render_capacity():
    """While renders wait in the queue (three clients keep it full of
    misses), a hot page's refresh ahead is not started: it would only add
    to the queue. The page is answered from the cache all the same."""
    with server("{ ttl = 3, grace = 0, ttl_jitter = 0, prefresh = 0.5 }") as srv:
        assert srv.get("/hot2").header("x-cache") == "MISS"
        born = time.time()
        stop = born + 2.5
        ts = [threading.Thread(target=lambda k=k: [srv.get("/slow/q%d-%d" % (k, i)) for i in range(100)
                                                   if time.time() < stop]) for k in range(3)]
        for t in ts:
            t.start()
        time.sleep(max(0.0, born + 1.7 - time.time()))    # due since 1.5 s
        for _ in range(5):
            r = srv.get("/hot2")
            assert r.header("x-cache") in ("HIT-L1", "HIT-L2"), r
        m = srv.metrics()
        for t in ts:
            t.join()
        assert m["rustyssr_cache_prefreshes_total"] == 0, m
        assert m["rustyssr_cache_hits_l2_total"] >= 5, m    # left to L2 once due


def test_overdue_refresh_goes_before_misses():
    """A background refresh waits behind the renders clients wait for, but
    not past the moment its page stops being servable (end of grace): from
    then on requests wait for it, and it takes its turn as if queued then.
    One render thread, /slow/ pages of 300 ms, and three clients keeping the
    queue full of misses for 6 s: the stale page's refresh must land soon
    after its grace ends, not after the stream (nor expire in the queue)."""
    with server("{ ttl = 1, grace = 1, ttl_jitter = 0, prefresh = false }") as srv:
        first = srv.get("/slow/a")
        born = time.time()
        time.sleep(max(0.0, born + 1.1 - time.time()))
        stop = time.time() + 6.0
        seen = []

        def stream(k):
            i = 0
            while time.time() < stop:
                r = srv.get("/slow/m%d-%d" % (k, i))
                seen.append(r.status)
                i += 1
        ts = [threading.Thread(target=stream, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        time.sleep(0.35)             # the queue holds misses now
        r = srv.get("/slow/a")
        assert r.header("x-cache") == "STALE" and r.body == first.body, r
        # Past the grace (born + 2 s) the refreshed page arrives; a request
        # may wait for it, but only for its own render and the one running.
        time.sleep(max(0.0, born + 2.05 - time.time()))
        t0 = time.time()
        r = srv.get("/slow/a")
        waited = time.time() - t0
        for t in ts:
            t.join()
        assert r.status == 200 and r.body != first.body, r
        assert waited < 2.5 * SLOW, "the refresh waited behind the misses: %.1f s" % waited
        assert time.time() - t0 > 3.0, "the stream of misses ended too soon to tell"
        assert all(s == 200 for s in seen), seen


def test_a_failed_refresh_is_not_its_waiters_answer():
    """A request that finds no page while a background refresh of it runs
    waits for that refresh; when the refresh fails, the request gets what
    it would have got without it (here: its own render, 200), never the
    refresh's 500. /refail/a's second render (the refresh) throws after
    1.5 s; a hard purge meanwhile takes the stale page away, so the next
    request joins the refresh's flight."""
    with server("{ ttl = 1, grace = 60, ttl_jitter = 0, prefresh = false }") as srv:
        first = srv.get("/refail/a")
        assert first.status == 200 and first.header("x-cache") == "MISS" and b"render 1" in first.body, first
        deadline = time.time() + 10 * SLOW
        while True:                  # its first stale answer starts the refresh
            r = srv.get("/refail/a")
            assert r.status == 200, r
            if r.header("x-cache") == "STALE":
                break
            assert time.time() < deadline, "never stale"
            time.sleep(0.05)
        r = srv.request(b"POST /purge?url=/refail/a&host=localhost HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n", port=srv.admin_port)
        assert r.status == 200 and b'"purged": 1' in r.body, r
        r = srv.get("/refail/a")
        assert r.status == 200 and r.header("x-cache") == "MISS" and b"render 3" in r.body, r
        m = srv.metrics()
        assert m["rustyssr_cache_coalesced_total"] == 1, m      # it did wait on the refresh
        assert m["rustyssr_cache_refresh_failed_total"] == 1, m
        assert srv.get("/refail/a").header("x-cache").startswith("HIT"), "its page was not stored"


def test_refresh_keeps_the_variants_clients_took():
    """A background refresh builds the variants of the page it replaces:
    a page only ever asked for without Accept-Encoding is refreshed as
    identity alone (gzip and br stay deferred, built when a client first
    takes one), a page whose clients took gzip gets its variants again."""
    with server("{ ttl = 1, grace = 30, ttl_jitter = 0, prefresh = false }") as srv:
        plain = srv.get("/v/plain")
        srv.get("/v/gz", {"Accept-Encoding": "gzip"})
        deadline = time.time() + 5 * SLOW    # the gzip client's page completes (all variants)
        while srv.get("/v/gz", {"Accept-Encoding": "gzip"}).header("content-encoding") != "gzip":
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(1.2)
        for p in ("/v/plain", "/v/gz"):
            assert srv.get(p).header("x-cache") == "STALE"
        deadline = time.time() + 5 * SLOW
        while True:                          # both refreshes land
            a, b = srv.get("/v/plain"), srv.get("/v/gz")
            if a.header("x-cache").startswith("HIT") and b.header("x-cache").startswith("HIT"):
                break
            assert time.time() < deadline, (a, b)
            time.sleep(0.05)
        assert a.body != plain.body          # the new page
        r = srv.get("/v/plain", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") is None, "the refresh built gzip nobody took: %r" % r
        r = srv.get("/v/gz", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") == "gzip", r


def write(d, name, cache):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\n'
                'ssr.config {\n'
                '  listen = "127.0.0.1:8080",\n'
                '  cache = {\n'
                '    ttl = 30,\n'
                '    %s\n'                          # line 6
                '  },\n'
                '}\n'
                'ssr.route("GET", "/*", { respond = { status = 200, body = "x" } })\n' % cache)
    return path


def test_bad_values_name_file_and_line():
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-ttl-")
    for i, (cache, want) in enumerate((
            ("ttl_jitter = 0.8,", "'cache.ttl_jitter' must be a share of the TTL from 0 to 0.5, got number 0.8"),
            ("ttl_jitter = -0.1,", "'cache.ttl_jitter' must be a share of the TTL from 0 to 0.5, got number -0.1"),
            ('ttl_jitter = "10%",', "'cache.ttl_jitter' must be a share of the TTL from 0 to 0.5, got"),
            ("prefresh = 1,", "'cache.prefresh' must be false or a share of the TTL from 0.5 to 0.99, got number 1"),
            ("prefresh = 0.2,", "'cache.prefresh' must be false or a share of the TTL from 0.5 to 0.99, got number 0.2"),
            ("prefresh = true,", "'cache.prefresh' must be false or a share of the TTL from 0.5 to 0.99, got boolean"))):
        path = write(d, "bad%d.lua" % i, cache)
        code, out = run_config_check(path)
        assert code == 1, (cache, out)
        assert "%s:6:" % path in out, (cache, out)
        assert want in out, (cache, want, out)


def test_dump_shows_both_keys():
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-ttl-")
    path = write(d, "set.lua", "ttl_jitter = 0.25, prefresh = false,")
    p = subprocess.run([BIN, "-T", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "    ttl_jitter = 0.25,  -- %s:6" % path in out, out
    assert "    prefresh = false,  -- %s:6" % path in out, out
    path = write(d, "default.lua", "")
    out = subprocess.run([BIN, "-T", "-c", path], stdout=subprocess.PIPE).stdout.decode()
    assert "    ttl_jitter = 0.1,  -- default" in out, out
    assert "    prefresh = 0.9,  -- default" in out, out


if __name__ == "__main__":
    main([test_ttl_jitter_spreads_expiry_within_bound, test_no_jitter_expires_together,
          test_prefresh_refreshes_a_hot_page_once_in_background, test_prefresh_off_lets_the_page_expire,
          test_prefresh_only_with_spare_render_capacity, test_refresh_keeps_the_variants_clients_took,
          test_overdue_refresh_goes_before_misses, test_a_failed_refresh_is_not_its_waiters_answer,
          test_bad_values_name_file_and_line, test_dump_shows_both_keys])
