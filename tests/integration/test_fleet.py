"""The shared tier over real sockets: three gateways (one loop, one render
thread each) and one redis-server (Debian's, started here on a free port)
share one cache: each page renders once for the fleet, a cold herd spread
over the three makes one render, a purge on one instance reaches the others
(admin and ssr.purge), a render that began before a purge is never stored,
and a Redis that goes away costs no failed request."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from rslib import SLOW, TESTS, Server, free_port, main

BUNDLE = os.path.join(TESTS, "js", "it_cache.js")


class Redis:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rs-redis-")
        self.proc = None

    def start(self):
        exe = shutil.which("redis-server")
        assert exe, "redis-server not found (scripts/setup installs it)"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning",
                                      "--enable-debug-command", "local"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        import socket
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def command(self, *args, wait=True):
        """One command over a raw socket (RESP); its first reply line, or
        the open socket when wait is False (DEBUG SLEEP answers late)."""
        import socket
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)).encode())
        if not wait:
            return s
        with s:
            return s.recv(4096).split(b"\r\n")[0]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def gateway(redis, extra_routes="", timeout_ms=1000, bundle=BUNDLE, cache_extra="", times="ttl = 60, grace = 10"):
    shared = '{ redis = "127.0.0.1:%d", prefix = "t%d:", timeout_ms = %d, write_timeout_ms = %d, ' \
             'lock_wait_ms = 3000 }' % (redis.port, redis.port, timeout_ms, timeout_ms)
    return Server(
        workers=1,
        config={"render": '{ bundle = "%s", threads = 1, timeout_ms = 5000 }' % bundle,
                "cache": "{ %s, shared = %s%s }" % (times, shared, cache_extra)},
        routes='ssr.route("GET", "/*", { render = true })\n' + extra_routes)


def renders(srv):
    m = srv.metrics()
    return m['rustyssr_renders_total{outcome="ok"}'] + m['rustyssr_renders_total{outcome="error"}']


def wait_ready(gws):
    """Every gateway's tier part is connected (lookups, and the purge channel)."""
    deadline = time.time() + 10 * SLOW
    while time.time() < deadline:
        if all(g.metrics().get("rustyssr_l3_subscribed") == 1 for g in gws):
            time.sleep(0.2)            # the loops' script loads
            return
        time.sleep(0.05)
    raise AssertionError("the gateways did not connect to redis")


def fleet(redis, n=3, extra_routes="", timeout_ms=1000):
    gws = [gateway(redis, extra_routes, timeout_ms) for _ in range(n)]
    for g in gws:
        g.start()
    wait_ready(gws)
    return gws


def stop_all(gws):
    for g in gws:
        code = g.stop()
        g.logf.close()
        assert code == 0, g.log()


def test_each_page_renders_once_for_the_fleet():
    with Redis() as redis:
        gws = fleet(redis)
        try:
            paths = ["/p/%d" % i for i in range(12)]
            bodies = {}
            for i, p in enumerate(paths):              # round robin: each path first asked on one instance
                r = gws[i % 3].get(p)
                assert r.status == 200, r
                bodies[p] = r.body
            for i, p in enumerate(paths):              # then on the two others: from the tier
                for g in (gws[(i + 1) % 3], gws[(i + 2) % 3]):
                    r = g.get(p)
                    assert r.status == 200 and r.body == bodies[p], (p, r)
                    assert r.header("x-cache") == "HIT-L3", (p, r.header("x-cache"))
            assert sum(renders(g) for g in gws) == len(paths)
            m = [g.metrics() for g in gws]
            assert sum(x["rustyssr_l3_hits_total"] for x in m) == 2 * len(paths), m
            assert sum(x["rustyssr_l3_stores_total"] for x in m) == len(paths), m
        finally:
            stop_all(gws)


def test_a_cold_herd_across_instances_renders_once():
    with Redis() as redis:
        gws = fleet(redis)
        try:
            results, errors = [], []

            def one(g):
                try:
                    results.append(g.get("/slow/herd"))
                except Exception as e:         # noqa: BLE001 - reported below
                    errors.append(e)
            threads = [threading.Thread(target=one, args=(gws[i % 3],)) for i in range(50)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert len(results) == 50 and all(r.status == 200 for r in results), results
            assert len({r.body for r in results}) == 1
            assert len({r.header("etag") for r in results}) == 1
            assert sum(renders(g) for g in gws) == 1
        finally:
            stop_all(gws)


def wait_for(cond, what, timeout=10.0):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(what)


def test_purges_reach_every_instance():
    with Redis() as redis:
        gws = fleet(redis, extra_routes='ssr.route("POST", "/hook-purge", function(req) '
                                        'ssr.purge { url = "/q", host = "localhost" } '
                                        'return 200, "ok" end)')
        try:
            a, b, c = gws
            for g in gws:                      # the page in every L2
                assert g.get("/q").status == 200
            before = sum(renders(g) for g in gws)
            assert before == 1
            # An admin purge on a: b and c drop it too, and the tier.
            r = a.request(b"POST /purge?url=/q&host=localhost HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n", port=a.admin_port)
            assert r.status == 200, r
            for g in (b, c):
                wait_for(lambda: g.metrics()["rustyssr_l3_purges_applied_total"] >= 1, "purge not applied")
            r = c.get("/q")
            assert r.header("x-cache") == "MISS", r.header("x-cache")     # rendered again, once
            assert b.get("/q").header("x-cache") == "HIT-L3"
            assert sum(renders(g) for g in gws) == before + 1
            # ssr.purge in a hook on b: the same.
            r = b.get("/hook-purge", method="POST")
            assert r.status == 200, r
            for g in (a, c):
                wait_for(lambda: g.metrics()["rustyssr_l3_purges_applied_total"] >= 2, "purge not applied")
            assert a.get("/q").header("x-cache") == "MISS"
            assert sum(renders(g) for g in gws) == before + 2
        finally:
            stop_all(gws)


def test_a_render_that_began_before_a_purge_is_never_stored():
    """B renders /race slowly (its props hook sleeps 0.6 s); A purges /race
    meanwhile. B's client gets its page (its request came first), but no
    tier keeps it: the next request on A and on B renders again."""
    with Redis() as redis:
        gws = fleet(redis, n=2, extra_routes='ssr.route("GET", "/race", { render = true, '
                                              'props = function(req) ssr.sleep(0.6) return {} end })')
        try:
            a, b = gws
            out = []
            t = threading.Thread(target=lambda: out.append(b.get("/race")))
            t.start()
            time.sleep(0.2)
            r = a.request(b"POST /purge?url=/race&host=localhost HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n", port=a.admin_port)
            assert r.status == 200, r
            t.join()
            assert out and out[0].status == 200, out
            wait_for(lambda: b.metrics()["rustyssr_l3_purges_applied_total"] >= 1, "b never heard the purge")
            # B kept its page nowhere: its L2 and the tier refused it ...
            # (the tier's answer to B's store comes back on its own time)
            wait_for(lambda: b.metrics()["rustyssr_l3_stores_refused_total"] >= 1, "the tier took B's page")
            mb = b.metrics()
            assert mb["rustyssr_cache_refused_stale_total"] == 1, mb
            assert mb["rustyssr_l3_stores_refused_total"] == 1, mb
            assert mb["rustyssr_l3_stores_total"] == 0, mb
            # ... so A renders anew, and B then gets A's page from the tier
            ra = a.get("/race")
            assert ra.status == 200 and ra.header("x-cache") == "MISS", ra.header("x-cache")
            assert renders(a) == 1
            rb = b.get("/race")
            assert rb.status == 200 and rb.header("x-cache") == "HIT-L3", rb.header("x-cache")
            assert rb.body == ra.body and renders(b) == 1
        finally:
            stop_all(gws)


def test_redis_away_costs_no_failed_request():
    with Redis() as redis:
        gws = fleet(redis, n=2)
        try:
            assert gws[0].get("/r/1").status == 200
            redis.stop()
            for i in range(40):                 # misses render here, hits come from L1/L2
                r = gws[i % 2].get("/r/%d" % (i % 5))
                assert r.status == 200, r
            m = gws[0].metrics()
            assert m["rustyssr_l3_subscribed"] == 0
            redis.start()
            wait_ready(gws)
            r = gws[1].get("/r/new")
            assert r.status == 200
            assert gws[0].get("/r/new").header("x-cache") == "HIT-L3"
        finally:
            stop_all(gws)


def test_a_hung_redis_costs_no_failed_request():
    """SIGSTOP: Redis accepts nothing and answers nothing. Every lookup ends
    at its deadline (timeout_ms) as a miss rendered here; no request fails
    or waits much longer; purges made meanwhile reach the others once Redis
    is back (the log replays what the channel lost), and the lookups Redis
    runs late leave no render lock behind. Purges meanwhile: 503 from the
    admin listener, nil, err from ssr.purge."""
    with Redis() as redis:
        gws = fleet(redis, n=2, timeout_ms=100,
                    extra_routes='ssr.route("POST", "/hook-purge", function(req) '
                                 'local n, err = ssr.purge { url = "/h/warm", host = "localhost" } '
                                 'if not n then return 503, err end '
                                 'return 200, "purged " .. n end)')
        try:
            a, b = gws
            assert a.get("/h/warm").status == 200
            os.kill(redis.proc.pid, signal.SIGSTOP)
            try:
                # ssr.purge waits for the fleet's answer: its command times
                # out (100 ms), so nil, err (applied here only)
                r = a.get("/hook-purge", method="POST")
                assert r.status == 503 and b"did not take the purge" in r.body, r
                assert a.get("/h/warm").header("x-cache") == "MISS"
                worst = 0.0
                for i in range(30):
                    t0 = time.time()
                    r = gws[i % 2].get("/h/%d" % (i % 6))
                    worst = max(worst, time.time() - t0)
                    assert r.status == 200, r
                # a lookup waits for its deadline (100 ms), never for Redis
                assert worst < 2.0 * SLOW, worst
                # a purge while Redis hangs: its command times out (100 ms),
                # it is applied here, logged, and answered 503
                r = a.request(b"POST /purge?prefix=GET%20localhost/h/&host=localhost HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 0\r\nConnection: close\r\n\r\n", port=a.admin_port)
                assert r.status == 503 and r.header("retry-after"), r
                # its command times out (100 ms) while Redis hangs: logged
                wait_for(lambda: "could not reach the fleet" in a.log(), "the lost purge was not logged")
            finally:
                os.kill(redis.proc.pid, signal.SIGCONT)
            wait_ready(gws)
            # Redis runs what was sent to it once it wakes: b hears the purge
            # late rather than never.
            wait_for(lambda: b.metrics()["rustyssr_l3_purges_applied_total"] >= 2, "b never heard the purges")
            # The lookups Redis ran late (sent while it hung, long given up)
            # took no render lock: nobody waits for a render nobody makes.
            waits = sum(g.metrics()["rustyssr_l3_wait_retries_total"] for g in gws)
            for i in range(6):
                assert gws[i % 2].get("/h/%d" % i).status == 200
            assert sum(g.metrics()["rustyssr_l3_wait_retries_total"] for g in gws) == waits
        finally:
            stop_all(gws)


def admin_purge(g, query):
    return g.request(("POST /purge?%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                      % query).encode(), port=g.admin_port)


def test_a_purge_the_fleet_did_not_get_answers_503():
    """Redis down: a purge is applied here (the page goes) but the fleet did
    not get it, so the admin answers 503 with Retry-After (a CMS retries)
    and ssr.purge returns nil, err; with Redis back, 200 again."""
    with Redis() as redis:
        gws = fleet(redis, n=2, extra_routes='ssr.route("POST", "/hook-purge", function(req) '
                                             'local n, err = ssr.purge { url = "/d", host = "localhost" } '
                                             'if not n then return 503, err end '
                                             'return 200, "purged " .. n end)')
        try:
            a, b = gws
            assert a.get("/d").status == 200
            assert a.get("/d").header("x-cache") == "HIT-L1"
            redis.stop()
            wait_for(lambda: a.metrics()["rustyssr_l3_subscribed"] == 0, "a did not see redis go")
            r = admin_purge(a, "url=/d&host=localhost")
            assert r.status == 503, r
            assert r.header("retry-after") and int(r.header("retry-after")) >= 1, r
            assert b'"fleet": false' in r.body and b'"purged": 1' in r.body, r.body
            assert "did not reach the fleet" in a.log()
            assert a.get("/d").header("x-cache") == "MISS"            # gone here all the same
            r = a.get("/hook-purge", method="POST")
            assert r.status == 503 and b"did not take the purge" in r.body, r
            assert a.get("/d").header("x-cache") == "MISS"
            redis.start()
            wait_ready(gws)
            wait_for(lambda: admin_purge(a, "url=/d&host=localhost").status == 200, "purges never answered 200")
            r = admin_purge(a, "tag=x&stale=1")
            assert r.status == 200 and b'"stale": true' in r.body, r
            r = a.get("/hook-purge", method="POST")
            assert r.status == 200 and r.body.startswith(b"purged "), r
        finally:
            stop_all(gws)


def test_purge_markers_expire_after_the_pages_they_cover():
    """A tag or prefix purge leaves a marker in Redis (a field of Pte / Ptp)
    that refuses the pages stored before it; it expires once none of them
    can be left: lock_ms (here 2 x 5000 + 500) after the last page stored
    expires (Plife; pages here live 60 + 10 s). Until then a page stored
    before the purge is dead for every instance."""
    with Redis() as redis:
        gws = fleet(redis, n=2, extra_routes='ssr.route("GET", "/news/*", { render = true, tags = { "news" } })')
        try:
            a, b = gws
            p = "t%d:" % redis.port

            def num(*args):
                line = redis.command(*args)
                assert line[:1] == b":", (args, line)
                return int(line[1:])

            def pages():
                return num("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", p + "{*}:b")
            for path in ("/news/1", "/pre/1"):
                assert a.get(path).header("x-cache") == "MISS"
            wait_for(lambda: a.metrics()["rustyssr_l3_stores_total"] == 2, "a's pages never reached the tier")
            assert pages() == 2
            assert num("EXISTS", p + "te") == 0 and num("EXISTS", p + "tp") == 0
            life = num("PTTL", p + "life")
            assert 60000 < life <= 70000, life
            for query, marker in (("tag=news", "te"), ("prefix=GET%20localhost/pre/", "tp")):
                r = admin_purge(a, query)
                assert r.status == 200, r
                ttl, index = num("PTTL", p + marker), num("PTTL", p + marker + ":x")
                # (index read a moment after ttl)
                assert life <= ttl <= 70000 + 10500 and ttl - 100 <= index <= ttl, (marker, life, ttl, index)
            wait_for(lambda: b.metrics()["rustyssr_l3_purges_applied_total"] == 2, "b never heard the purges")
            assert pages() == 2                    # still in Redis, dead: b renders them again
            for path in ("/news/1", "/pre/1"):
                r = b.get(path)
                assert r.status == 200 and r.header("x-cache") == "MISS", (path, r.header("x-cache"))
            assert renders(b) == 2
        finally:
            stop_all(gws)


def test_refresh_ahead_once_for_the_fleet():
    """cache.prefresh with a shared tier: a page B took from the tier has
    the refresh-ahead time it has on A, which rendered it; past it, the
    first instance to see a hit asks the tier, takes the lock and renders
    the page again in the background (answering with its copy); the other,
    asking the tier too, gets the page, not a second render. An instance
    without a copy (C) that asks the tier first past that time answers
    with the tier's page and refreshes it in the background. When A's copy
    expires, it takes the new page from the tier. No client ever waits for
    a render but the first. (ttl 6 s, prefresh 0.5: due at 3 s.)"""
    with Redis() as redis:
        gws = [gateway(redis, times="ttl = 6, grace = 0, ttl_jitter = 0, prefresh = 0.5") for _ in range(3)]
        for g in gws:
            g.start()
        wait_ready(gws)
        try:
            a, b, c = gws
            assert a.get("/warm").status == 200   # A's page counter runs ahead: its pages differ from B's, C's
            first, first2 = a.get("/slow/pf"), a.get("/slow/pf2")
            born = time.time()
            assert first.header("x-cache") == "MISS" and first2.header("x-cache") == "MISS"
            r = b.get("/slow/pf")
            assert r.header("x-cache") == "HIT-L3" and r.body == first.body, r.header("x-cache")
            assert renders(a) == 3 and renders(b) == 0
            time.sleep(max(0.0, born + 3.3 - time.time()))     # past the refresh-ahead time
            assert time.time() < born + 5.0, "too slow to tell (the pages expire at 6 s)"
            r = b.get("/slow/pf")            # B's copy (from the tier) is due: B refreshes it
            assert r.status == 200 and r.header("x-cache") == "HIT-L2" and r.body == first.body, r.header("x-cache")
            r = a.get("/slow/pf")            # A's is due too: the tier's lock says B has it
            assert r.status == 200 and r.header("x-cache") in ("HIT-L2", "HIT-L3"), r.header("x-cache")
            r = c.get("/slow/pf2")           # C has no copy: the tier's, and C refreshes it
            assert r.status == 200 and r.header("x-cache") == "HIT-L3" and r.body == first2.body, r.header("x-cache")
            r = c.get("/slow/pf2")           # stored here meanwhile: no wait for the refresh
            assert r.header("x-cache") in ("HIT-L1", "HIT-L2") and r.body == first2.body, r.header("x-cache")
            wait_for(lambda: b.metrics()["rustyssr_l3_stores_total"] == 1, "B's refresh never reached the tier")
            wait_for(lambda: c.metrics()["rustyssr_l3_stores_total"] == 1, "C's refresh never reached the tier")
            assert (renders(a), renders(b), renders(c)) == (3, 1, 1), (renders(a), renders(b), renders(c))
            mb, ma = b.metrics(), a.metrics()
            assert mb["rustyssr_cache_prefreshes_total"] == 1 and mb["rustyssr_l3_refreshes_total"] == 1, mb
            assert ma["rustyssr_l3_refreshes_total"] == 0, ma
            assert c.metrics()["rustyssr_l3_refreshes_total"] == 1
            fresh, fresh2 = b.get("/slow/pf"), c.get("/slow/pf2")
            assert fresh.body != first.body and fresh.header("x-cache").startswith("HIT"), fresh.header("x-cache")
            assert fresh2.body != first2.body and fresh2.header("x-cache").startswith("HIT")
            # A's copies expire at 6 s (or A's own refresh ahead of pf2 takes
            # C's page earlier): the tier has the new pages, fresh.
            time.sleep(max(0.0, born + 6.2 - time.time()))
            for path, want in (("/slow/pf", fresh.body), ("/slow/pf2", fresh2.body)):
                r = a.get(path)
                assert r.status == 200 and r.body == want, (path, r.header("x-cache"), r.body[:80])
                assert r.header("x-cache") in ("HIT-L1", "HIT-L2", "HIT-L3"), r.header("x-cache")
            assert (renders(a), renders(b), renders(c)) == (3, 1, 1), (renders(a), renders(b), renders(c))
        finally:
            stop_all(gws)


def test_a_soft_purge_reaches_the_fleet_as_a_soft_purge():
    """A soft purge on A (stale=1): every instance keeps the page, stale;
    the tier keeps it too, stale. C, which never had the page, gets the
    tier's stale copy (STALE) and refreshes it, once for the fleet; A and B
    then take C's new page from the tier: 2 renders in all."""
    with Redis() as redis:
        gws = fleet(redis)
        try:
            a, b, c = gws
            first = a.get("/s")
            assert first.status == 200 and first.header("x-cache") == "MISS", first
            assert b.get("/s").header("x-cache") == "HIT-L3"
            r = admin_purge(a, "url=/s&host=localhost&stale=1")
            assert r.status == 200 and b'"stale": true' in r.body, r
            for g in gws:
                wait_for(lambda: g.metrics()["rustyssr_l3_purges_applied_total"] >= 1, "purge not applied")
            assert b.metrics()["rustyssr_cache_softened_total"] == 1, b.metrics()        # kept, stale
            r = c.get("/s")                   # the tier's copy, stale: served, and c refreshes it
            assert r.status == 200 and r.header("x-cache") == "STALE", r.header("x-cache")
            assert r.body == first.body
            wait_for(lambda: renders(c) == 1, "c did not refresh the page")
            wait_for(lambda: c.metrics()["rustyssr_l3_stores_total"] == 1, "c did not store its refresh")
            for g in (a, b):                  # their stale copies: replaced from the tier, no render
                r = g.get("/s")
                assert r.status == 200 and r.header("x-cache") == "HIT-L3", (r.header("x-cache"))
            assert sum(renders(g) for g in gws) == 2
            assert sum(g.metrics()["rustyssr_l3_stale_total"] for g in gws) == 1
            # a hard purge still removes it everywhere
            assert admin_purge(b, "url=/s&host=localhost").status == 200
            for g in gws:
                wait_for(lambda: g.metrics()["rustyssr_l3_purges_applied_total"] >= 2, "purge not applied")
            assert a.get("/s").header("x-cache") == "MISS"
        finally:
            stop_all(gws)


def own_bundle(d, extra=""):
    """A copy of BUNDLE in d (the same bytes: the same bundle id), plus extra."""
    with open(BUNDLE) as f:
        src = f.read()
    path = os.path.join(d, "bundle.js")
    with open(path, "w") as f:
        f.write(src + extra)
    return path


def reload(srv, timeout=20.0):
    ok0 = srv.log().count(": reloaded ")
    srv.signal(signal.SIGHUP)
    wait_for(lambda: srv.log().count(": reloaded ") > ok0 or "reload failed" in srv.log(), "no reload", timeout)
    assert "reload failed" not in srv.log(), srv.log()


def test_a_new_bundle_and_the_pages_of_the_old_one_in_the_tier():
    """B deploys a new bundle (SIGHUP, other bytes). A page the old bundle
    rendered, found in the tier by B: with cache.on_new_bundle = "stale"
    (the default) it is answered stale and B renders it again in the
    background, once; "purge": a miss, rendered; "keep": a hit (HIT-L3).
    A, still on the old bundle, keeps taking the old page."""
    for mode, want in (("stale", "STALE"), ("purge", "MISS"), ("keep", "HIT-L3")):
        with Redis() as redis:
            d = tempfile.mkdtemp(prefix="rs-fleet-bundle-")
            extra = ', on_new_bundle = "%s"' % mode
            gws = [gateway(redis, bundle=own_bundle(d) if i == 1 else BUNDLE, cache_extra=extra) for i in range(2)]
            for g in gws:
                g.start()
            wait_ready(gws)
            a, b = gws
            try:
                old = a.get("/m")
                assert old.header("x-cache") == "MISS", old
                wait_for(lambda: a.metrics()["rustyssr_l3_stores_total"] == 1, "a did not store /m")
                own_bundle(d, "\n// a new deploy\n")
                reload(b)
                before = renders(b)
                r = b.get("/m")
                assert r.status == 200 and r.header("x-cache") == want, (mode, r.header("x-cache"))
                if mode == "keep":
                    assert r.body == old.body and renders(b) == before, mode
                    continue
                if mode == "stale":
                    assert r.body == old.body, mode                     # the old page, stale
                    wait_for(lambda: b.metrics()["rustyssr_l3_stores_total"] == 1, "b did not refresh /m")
                    assert b.metrics()["rustyssr_l3_stale_total"] == 1
                assert renders(b) == before + 1, mode                   # rendered once, by the new bundle
                assert b.get("/m").header("x-cache") in ("HIT-L1", "HIT-L2")
                # A, on the old bundle, still has its own page; a third
                # instance on the new bundle takes B's page from the tier
                c = gateway(redis, bundle=own_bundle(d, "\n// a new deploy\n"), cache_extra=extra)
                gws.append(c)
                c.start()
                wait_ready([c])
                r = c.get("/m")
                assert r.header("x-cache") == "HIT-L3" and renders(c) == 0, (mode, r.header("x-cache"))
            finally:
                stop_all(gws)
                shutil.rmtree(d, ignore_errors=True)


def test_redis_paused_killed_and_restarted_under_load():
    """Four clients hammer two gateways (new pages and known ones) while
    Redis is stopped (SIGSTOP), paused (CLIENT PAUSE 2000 ALL), asleep
    (DEBUG SLEEP 2), killed (SIGKILL) and restarted: not one answer is
    other than 200; the breaker opens meanwhile and closes after, and the
    tier serves again."""
    with Redis() as redis:
        gws = fleet(redis, n=2, timeout_ms=50)
        stop = threading.Event()
        statuses, errors, counter = {}, [], [0]
        lock = threading.Lock()

        def hammer(k):
            i = 0
            while not stop.is_set():
                i += 1
                with lock:
                    counter[0] += 1
                    n = counter[0]
                path = "/l/new%d" % n if i % 2 else "/l/old%d" % (i % 20)
                try:
                    r = gws[(k + i) % 2].get(path)
                    with lock:
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                except Exception as e:      # noqa: BLE001 - reported below
                    errors.append(repr(e))
        threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
        try:
            for t in threads:
                t.start()

            def phase(fault, recover, hold):
                time.sleep(0.4)
                fault()
                time.sleep(hold)
                recover()
                wait_ready(gws)
            phase(lambda: os.kill(redis.proc.pid, signal.SIGSTOP), lambda: os.kill(redis.proc.pid, signal.SIGCONT), 1.0)
            phase(lambda: redis.command("CLIENT", "PAUSE", "2000", "ALL"), lambda: None, 2.2)
            sleeper = []
            phase(lambda: sleeper.append(redis.command("DEBUG", "SLEEP", "2", wait=False)),
                  lambda: sleeper[0].close(), 2.2)
            phase(lambda: redis.stop(), lambda: redis.start(), 1.0)
            time.sleep(0.4)
        finally:
            stop.set()
            for t in threads:
                t.join()
        try:
            assert not errors, errors[:5]
            assert set(statuses) == {200}, statuses
            assert sum(statuses.values()) > 100, statuses
            m = [g.metrics() for g in gws]
            assert sum(x["rustyssr_l3_breaker_trips_total"] for x in m) >= 1, m
            for g in gws:
                wait_for(lambda: g.metrics()["rustyssr_l3_breaker_open"] == 0, "the breaker stayed open")
            # the tier serves again: a page rendered on one is a hit on the other
            n = [0]

            def shared_again():
                n[0] += 1
                assert gws[0].get("/l/after%d" % n[0]).status == 200
                return gws[1].get("/l/after%d" % n[0]).header("x-cache") == "HIT-L3"
            wait_for(shared_again, "the tier did not serve again")
        finally:
            stop_all(gws)


def test_stale_while_revalidate_refreshes_once_for_the_fleet():
    """A page past its TTL (the bundle's ttl: 1 for /ttl1), within grace,
    on three instances: they answer it stale, and one of them, the one
    that takes the lock, renders it again: 2 renders in all; the others
    take the new page from the tier."""
    with Redis() as redis:
        gws = fleet(redis)
        try:
            first = gws[0].get("/ttl1")
            assert first.header("x-cache") == "MISS"
            for g in gws[1:]:
                assert g.get("/ttl1").header("x-cache") == "HIT-L3"
            time.sleep(1.3)                          # past the TTL, within the grace (10 s)
            r = gws[0].get("/ttl1")
            assert r.status == 200 and r.header("x-cache") == "STALE" and r.body == first.body, r
            for g in gws[1:]:                        # stale, or already the refreshed page from the tier
                r = g.get("/ttl1")
                assert r.status == 200 and r.header("x-cache") in ("STALE", "HIT-L3"), r.header("x-cache")
            wait_for(lambda: sum(renders(g) for g in gws) == 2 and
                     sum(g.metrics()["rustyssr_l3_stores_total"] for g in gws) == 2, "no refresh stored")
            for g in gws:                            # the refreshed page, from the tier or their own
                r = g.get("/ttl1")
                assert r.header("x-cache") in ("HIT-L3", "HIT-L1", "HIT-L2"), r.header("x-cache")
            assert sum(renders(g) for g in gws) == 2
        finally:
            stop_all(gws)


def test_config_errors():
    from rslib import run_config_check
    for shared, needle in [
        ('{ }', "needs redis"),
        ('{ redis = "localhost" }', "host:port"),
        ('{ redis = "h:0" }', "host:port"),
        ('{ redis = "h:1", prefix = "a b" }', "prefix"),
        ('{ redis = "h:1", timeout_ms = 0 }', "timeout_ms"),
        ('{ redis = "h:1", lock_wait = 1 }', "lock_wait"),
        ('"h:1"', "must be a table"),
    ]:
        d = tempfile.mkdtemp(prefix="rs-fleet-cfg-")
        path = os.path.join(d, "rustyssr.lua")
        with open(path, "w") as f:
            f.write('local ssr = require "rustyssr"\nssr.config {\n  listen = "127.0.0.1:1",\n'
                    '  cache = {\n    shared = %s,\n  },\n}\n' % shared)
        code, out = run_config_check(path)
        assert code != 0 and needle in out and "rustyssr.lua:" in out, (shared, code, out)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main([test_each_page_renders_once_for_the_fleet, test_a_cold_herd_across_instances_renders_once,
          test_purges_reach_every_instance, test_a_render_that_began_before_a_purge_is_never_stored,
          test_redis_away_costs_no_failed_request,
          test_a_hung_redis_costs_no_failed_request, test_a_purge_the_fleet_did_not_get_answers_503,
          test_purge_markers_expire_after_the_pages_they_cover,
          test_refresh_ahead_once_for_the_fleet,
          test_a_soft_purge_reaches_the_fleet_as_a_soft_purge,
          test_a_new_bundle_and_the_pages_of_the_old_one_in_the_tier,
          test_redis_paused_killed_and_restarted_under_load,
          test_stale_while_revalidate_refreshes_once_for_the_fleet,
          test_config_errors])
