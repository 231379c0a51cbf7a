"""bench/lib/fleet.py — the figures of the fleet issue (cache.shared, the
shared tier in Redis): 3 gateways and one redis-server on loopback, Zipf(0.99)
over 10,000 URLs. See bench/README.md, "Fleet".

  python3 bench/lib/fleet.py [--duration S] [--ttl S] [--purges N] [--only PARTS] [--keep-tmp]

Parts (all by default):
  renders  the same wrk load (one wrk per gateway, its own seed) on the fleet
           with cache.shared and on 3 independent caches: renders per page
           version, hit ratio
  faults   the fleet under load while redis-server is SIGKILLed and restarted
           mid-run: failed requests
  purge    purge on A (admin POST /purge?url=), B and C polled on keep-alive
           connections until their answer is no longer a local hit: reach
           time p50/p99
  l3cost   one gateway whose L1/L2 are tiny (every hit comes from L3) against
           the same gateway with a large L2 (L2/L1 hits): req/s, p50/p99, RSS

Same machinery as bench/run (procs.py, measure.wrk): every process on a free
loopback port in a process group of its own, its group id in $BENCH_TMP/pgids
so that the shell wrapper stops what is left. Prints one Markdown table per
part, with the load average beside each figure, and writes them with the
raw figures to bench/results/last-fleet.{md,json}.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import client                                   # noqa: E402
import procs                                    # noqa: E402
from measure import Load, wrk                   # noqa: E402
from procs import Proc, free_port, wait_port    # noqa: E402
from scenarios import MANY, ZIPF_S, zipf_urls   # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Ctx:
    pass


# ------------------------------------------------------------------ processes
class Redis:
    def __init__(self, ctx):
        self.ctx, self.port, self.proc = ctx, free_port(), None
        self.dir = os.path.join(ctx.tmp, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)

    def start(self):
        exe = shutil.which("redis-server")
        self.proc = Proc("redis", [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
                         os.path.join(self.ctx.tmp, "redis.log"))
        wait_port(self.port, self.proc)
        return self

    def kill(self):
        os.killpg(self.proc.pgid, signal.SIGKILL)
        self.proc.popen.wait()

    def stop(self):
        self.proc.stop()


class Gateway:
    def __init__(self, ctx, name, redis=None, ttl=3600, grace=0, cache_extra="", threads=1):
        self.ctx, self.name = ctx, name
        self.port, self.admin = free_port(), free_port()
        self.redis, self.ttl, self.grace, self.cache_extra, self.threads = redis, ttl, grace, cache_extra, threads

    def start(self):
        shared = ""
        if self.redis is not None:
            shared = (', shared = { redis = "127.0.0.1:%d", prefix = "bench:", timeout_ms = %d, '
                      'write_timeout_ms = %d, lock_wait_ms = 3000 }' % (self.redis.port, self.ctx.redis_timeout, self.ctx.redis_timeout))
        conf = os.path.join(self.ctx.tmp, self.name + ".lua")
        with open(conf, "w") as f:
            f.write("""local ssr = require "rustyssr"
ssr.config {
  listen = "127.0.0.1:%d", admin = "127.0.0.1:%d",
  workers = 1, pin = false,
  log = { level = "warn" },
  render = { bundle = "%s", threads = %d },
  cache = { ttl = %d, grace = %d%s%s },
}
ssr.route("GET", "/*", { render = true })
""" % (self.port, self.admin, self.ctx.bundle, self.threads, self.ttl, self.grace, self.cache_extra, shared))
        self.proc = Proc(self.name, [self.ctx.rustyssr, "-c", conf], os.path.join(self.ctx.tmp, self.name + ".log"))
        wait_port(self.port, self.proc)
        wait_port(self.admin, self.proc)
        return self

    def metrics(self):
        return client.metrics(self.admin)

    def stop(self):
        self.proc.stop()


def wait_subscribed(gws, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(g.metrics().get("rustyssr_l3_subscribed") == 1 for g in gws):
            time.sleep(0.3)
            return
        time.sleep(0.05)
    raise RuntimeError("the gateways did not connect to redis")


def msum(ms, prefix):
    return sum(v for m in ms for k, v in m.items() if k == prefix or k.startswith(prefix + "{"))


def wrk_all(ctx, gws, seconds, during=None):
    """One wrk per gateway at once (Zipf over the URL file, seed i+1); during
    (may be None) runs in this thread meanwhile. Returns the wrk results."""
    out = [None] * len(gws)
    errs = []

    def one(i):
        try:
            load = Load(script="zipf.lua", args=lambda nonce, i=i: [ctx.urls_file, i + 1, ZIPF_S])
            out[i] = wrk(ctx, gws[i].port, load, seconds, 0)
        except Exception as e:          # noqa: BLE001 - raised below
            errs.append(e)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(gws))]
    for t in ts:
        t.start()
    if during is not None:
        during()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]
    return out


# ------------------------------------------------------------------ parts
def part_renders(ctx):
    rows = {}
    for mode in ("fleet", "independent"):
        redis = Redis(ctx).start() if mode == "fleet" else None
        gws = [Gateway(ctx, "%s-%d" % (mode, i), redis, ttl=ctx.ttl, grace=0).start() for i in range(3)]
        try:
            if redis:
                wait_subscribed(gws)
            la0 = loadavg()
            before = [g.metrics() for g in gws]
            res = wrk_all(ctx, gws, ctx.duration)
            after = [g.metrics() for g in gws]
            d = lambda name: msum(after, name) - msum(before, name)
            requests = sum(r["requests"] for r in res)
            renders = d("rustyssr_renders_total")
            row = {"requests": requests, "rps": sum(r["rps"] for r in res), "renders": renders,
                   "errors": sum(r["errors"] for r in res), "p99_ms": max(r["p99"] for r in res),
                   "hit_ratio": 1 - renders / requests if requests else 0, "load": (la0 + loadavg()) / 2}
            if redis:
                row["versions"] = d("rustyssr_l3_stores_total")
                row["l3_hits"] = d("rustyssr_l3_hits_total")
                row["renders_per_version"] = renders / row["versions"] if row["versions"] else 0
                row["waits"] = d("rustyssr_l3_wait_retries_total")
                row["misses_unlocked"] = d("rustyssr_l3_misses_total")
            rows[mode] = row
        finally:
            for g in gws:
                g.stop()
            if redis:
                redis.stop()
    f, ind = rows["fleet"], rows["independent"]
    # Independent caches make no versions of their own in Redis: their
    # renders per version is their renders per request over the fleet's
    # versions per request (the same load, the same TTL).
    vpr = f["versions"] / f["requests"] if f["requests"] else 0
    ind["renders_per_version"] = (ind["renders"] / ind["requests"]) / vpr if vpr else 0
    ctx.results["renders"] = rows
    lines = ["| | requests | req/s | renders | versions (L3 stores) | renders / version | hit ratio | "
             "errors | p99 ms | load avg |", "|---|---|---|---|---|---|---|---|---|---|"]
    for mode in ("fleet", "independent"):
        r = rows[mode]
        lines.append("| %s | %d | %.0f | %d | %s | %.2f | %.1f%% | %d | %.1f | %.1f |" % (
            "3 gateways + cache.shared" if mode == "fleet" else "3 independent caches", r["requests"], r["rps"],
            r["renders"], "%d" % r["versions"] if "versions" in r else "(fleet's per request)",
            r["renders_per_version"], 100 * r["hit_ratio"], r["errors"], r["p99_ms"], r["load"]))
    return "\n".join(lines)


def part_faults(ctx):
    redis = Redis(ctx).start()
    gws = [Gateway(ctx, "faults-%d" % i, redis, ttl=ctx.ttl, grace=0).start() for i in range(3)]
    try:
        wait_subscribed(gws)
        la0 = loadavg()

        def chaos():
            time.sleep(ctx.duration / 3)
            redis.kill()
            time.sleep(1.0)
            redis.start()
        before = [g.metrics() for g in gws]
        res = wrk_all(ctx, gws, ctx.duration, during=chaos)
        after = [g.metrics() for g in gws]
        row = {"requests": sum(r["requests"] for r in res), "errors": sum(r["errors"] for r in res),
               "status_errors": sum(r["status"] for r in res), "p99_ms": max(r["p99"] for r in res),
               "max_ms": max(r["max_us"] for r in res) / 1000.0,
               "breaker_trips": msum(after, "rustyssr_l3_breaker_trips_total") -
               msum(before, "rustyssr_l3_breaker_trips_total"),
               "l3_errors": msum(after, "rustyssr_l3_errors_total") - msum(before, "rustyssr_l3_errors_total"),
               "load": (la0 + loadavg()) / 2}
    finally:
        for g in gws:
            g.stop()
        redis.stop()
    ctx.results["faults"] = row
    return ("| requests | failed (non-2xx + socket errors) | p99 ms | max ms | L3 errors | breaker trips | load avg |\n"
            "|---|---|---|---|---|---|---|\n| %d | %d | %.1f | %.0f | %d | %d | %.1f |" % (
                row["requests"], row["errors"], row["p99_ms"], row["max_ms"], row["l3_errors"],
                row["breaker_trips"], row["load"]))


class Conn:
    """A keep-alive HTTP/1.1 connection for tight polling."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, raw):
        self.s.sendall(raw)

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            h[k.strip().lower()] = v.strip()
        n = int(h.get(b"content-length", b"0"))
        while len(rest) < n:
            rest += self.s.recv(65536)
        self.buf = rest[n:]
        return status, h

    def get(self, path):
        self.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
        return self.response()


def part_purge(ctx):
    redis = Redis(ctx).start()
    gws = [Gateway(ctx, "purge-%d" % i, redis).start() for i in range(3)]
    try:
        wait_subscribed(gws)
        a, b, c = gws
        adm = Conn(a.admin)
        polls = [Conn(b.port), Conn(c.port)]
        reach, la = [], []
        for i in range(ctx.purges):
            path = "/catalog/purge?page=%d" % i
            for p in polls:                  # in B's and C's L1 (the tier's copy, then a local hit)
                for _ in range(3):
                    st, h = p.get(path)
            la.append(loadavg())
            t0 = time.perf_counter()
            adm.send(b"POST /purge?url=%s&host=127.0.0.1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                     % path.replace("?", "%3F").replace("=", "%3D").replace("&", "%26").encode())
            pending, done = {0, 1}, {}
            while pending:
                for k in list(pending):
                    st, h = polls[k].get(path)
                    if h.get(b"x-cache") not in (b"HIT-L1", b"HIT-L2"):
                        done[k] = (time.perf_counter() - t0) * 1000.0
                        pending.discard(k)
            st, _ = adm.response()
            if st != 200:
                raise RuntimeError("purge answered %d" % st)
            reach.append(max(done.values()))
    finally:
        for g in gws:
            g.stop()
        redis.stop()
    reach.sort()
    q = lambda p: reach[min(len(reach) - 1, int(p * len(reach)))]
    row = {"purges": len(reach), "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": reach[-1],
           "load": statistics.mean(la)}
    ctx.results["purge"] = row
    return ("| purges | reach B and C p50 ms | p99 ms | max ms | load avg |\n|---|---|---|---|---|\n"
            "| %d | %.2f | %.2f | %.2f | %.1f |" % (row["purges"], row["p50_ms"], row["p99_ms"], row["max_ms"],
                                                  row["load"]))


def part_l3cost(ctx):
    """The filler renders every URL into the tier; then one gateway with a
    tiny L2/L1 (every hit an L3 hit) and one with a large L2 (warm) run the
    same Zipf load, alone, one after the other."""
    redis = Redis(ctx).start()
    filler = Gateway(ctx, "l3-filler", redis, threads=2).start()
    rows = {}
    try:
        wait_subscribed([filler])
        urls = zipf_urls(ctx.many)
        client.fetch_many(filler.port, urls, conns=8)
        filler.stop()
        tiny = ', max_entries = 1, l1 = { hot = 1, entries = 1 }'
        for mode, extra in (("L3", tiny), ("L2", "")):
            g = Gateway(ctx, "l3cost-" + mode, redis, cache_extra=extra).start()
            try:
                wait_subscribed([g])
                client.fetch_many(g.port, urls, conns=8)          # the L2 run: every page in L2
                la0 = loadavg()
                before = g.metrics()
                load = Load(script="zipf.lua", args=lambda nonce: [ctx.urls_file, 1, ZIPF_S])
                r = wrk(ctx, g.port, load, ctx.duration, 0)
                after = g.metrics()
                d = lambda k: after.get(k, 0) - before.get(k, 0)
                rows[mode] = {"rps": r["rps"], "p50_ms": r["p50"], "p99_ms": r["p99"], "errors": r["errors"],
                              "renders": d('rustyssr_renders_total{outcome="ok"}'),
                              "l3_hits": d("rustyssr_cache_hits_l3_total"),
                              "l2_hits": d("rustyssr_cache_hits_l2_total") + d("rustyssr_cache_hits_l1_total"),
                              "rss_mb": g.proc.peak_rss_mb(), "redis_rss_mb": redis.proc.rss_mb(),
                              "load": (la0 + loadavg()) / 2}
            finally:
                g.stop()
    finally:
        redis.stop()
    ctx.results["l3cost"] = rows
    lines = ["| hits from | req/s | p50 ms | p99 ms | L3 hits | L1+L2 hits | renders | errors | "
             "gateway peak RSS MB | redis RSS MB | load avg |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for mode in ("L3", "L2"):
        r = rows[mode]
        lines.append("| %s | %.0f | %.2f | %.2f | %d | %d | %d | %d | %.0f | %.0f | %.1f |" % (
            mode, r["rps"], r["p50_ms"], r["p99_ms"], r["l3_hits"], r["l2_hits"], r["renders"], r["errors"],
            r["rss_mb"], r["redis_rss_mb"], r["load"]))
    return "\n".join(lines)


PARTS = {"renders": part_renders, "faults": part_faults, "purge": part_purge, "l3cost": part_l3cost}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    ap.add_argument("--ttl", type=int, default=4, help="the pages' TTL in the renders and faults parts (4 s)")
    ap.add_argument("--purges", type=int, default=200)
    ap.add_argument("--conns", type=int, default=16, help="wrk connections per gateway (16)")
    ap.add_argument("--many", type=int, default=MANY, help="URLs (10,000)")
    ap.add_argument("--redis-timeout", type=int, default=200,
                    help="cache.shared.timeout_ms and write_timeout_ms (200: a shared 2-core machine; default 5/50)")
    ap.add_argument("--only", default=",".join(PARTS))
    ap.add_argument("--keep-tmp", action="store_true")
    a = ap.parse_args()
    ctx = Ctx()
    ctx.duration, ctx.ttl, ctx.purges, ctx.many = a.duration, a.ttl, a.purges, a.many
    ctx.conns, ctx.wrk_threads, ctx.redis_timeout = a.conns, 1, a.redis_timeout
    ctx.scenarios = os.path.join(ROOT, "bench", "scenarios")
    ctx.rustyssr = os.environ.get("RUSTYSSR_BIN") or os.path.join(ROOT, "build", "release", "rustyssr")
    demo = os.path.join(ROOT, "bench", "app", "dist", "server.js")
    ctx.bundle = demo if os.path.exists(demo) else os.path.join(ROOT, "tests", "js", "it_cache.js")
    ctx.tmp = os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="rustyssr-fleet.")
    procs.set_state_dir(ctx.tmp)
    ctx.urls_file = os.path.join(ctx.tmp, "urls.txt")
    with open(ctx.urls_file, "w") as f:
        f.write("\n".join(zipf_urls(ctx.many)) + "\n")
    ctx.results = {}
    out = ["# bench/fleet — %s, %d cores, bundle %s, wrk -t1 -c%d per gateway, %d s runs, TTL %d s, redis timeouts %d ms" % (
        time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), os.path.relpath(ctx.bundle, ROOT), ctx.conns,
        ctx.duration, ctx.ttl, ctx.redis_timeout)]
    try:
        for name in a.only.split(","):
            print("bench/fleet: %s (load average %.1f)" % (name, loadavg()), file=sys.stderr, flush=True)
            out += ["", "## " + name, "", PARTS[name](ctx)]
    finally:
        procs.stop_all()
    text = "\n".join(out) + "\n"
    print(text)
    rdir = os.path.join(ROOT, "bench", "results")
    os.makedirs(rdir, exist_ok=True)
    with open(os.path.join(rdir, "last-fleet.md"), "w") as f:
        f.write(text)
    with open(os.path.join(rdir, "last-fleet.json"), "w") as f:
        json.dump(ctx.results, f, indent=1)


if __name__ == "__main__":
    main()
