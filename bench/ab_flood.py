#!/usr/bin/env python3
"""bench/ab_flood.py — what render priority costs the hits: cached pages
served beside a flood of misses, for several render.nice values side by
side. Each value starts rustyssr (bench/run's config: workers and render
threads "auto", pinned, cache on) on a free port, caches one catalogue page,
then runs two wrk at once for DUR seconds: -t1 -c50 on that page (hits) and
-t1 -c50 with scenarios/unique.lua (every request a new URL: misses), the
values' order rotated each round. Prints each run's req/s, p50 and p99 of
both, then the medians.

  bench/ab_flood.py ROUNDS DUR [NICE ...]     (default NICE: 0 -5)
  env: RUSTYSSR_BIN (default build/release/rustyssr)
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(here, "bench/lib"))
from procs import free_port  # noqa: E402

if len(sys.argv) < 3:
    sys.exit(__doc__)
rounds, dur = int(sys.argv[1]), int(sys.argv[2])
nices = [int(x) for x in sys.argv[3:]] or [0, -5]
binp = os.environ.get("RUSTYSSR_BIN") or os.path.join(here, "build/release/rustyssr")
bundle = os.path.join(here, "bench/app/dist/server.js")
tmp = tempfile.mkdtemp(prefix="ab-flood-")
env = dict(os.environ, BENCH_SCENARIOS=os.path.join(here, "bench/scenarios"))


def wrk_figures(out):
    num = lambda k: re.search(k + r"\s+([\d.]+)(\w+)", out)
    def ms(k):
        v, unit = num(k).groups()
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), ms("50%"), ms("99%")


def one(nice, nonce):
    port, admin = free_port(), free_port()
    conf = os.path.join(tmp, "flood.lua")
    with open(conf, "w") as f:
        f.write('''local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", workers = "auto", pin = true,
  log = { level = "warn" }, render = { bundle = "%s", threads = "auto", nice = %d },
  cache = { ttl = 3600, grace = 10 } }
ssr.route("GET", "/*", { render = true })
''' % (port, admin, bundle, nice))
    p = subprocess.Popen([binp, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/health" % admin, timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        hit = "http://127.0.0.1:%d/catalog/shoes?page=2" % port
        urllib.request.urlopen(hit).read()
        w = lambda extra: subprocess.Popen(["wrk", "-t1", "-c50", "-d%ds" % dur, "--latency"] + extra,
                                           stdout=subprocess.PIPE, text=True, env=env)
        misses = w(["-s", os.path.join(here, "bench/scenarios/unique.lua"), "http://127.0.0.1:%d/" % port,
                    "--", str(nonce)])
        hits = w([hit])
        return wrk_figures(hits.communicate()[0]), wrk_figures(misses.communicate()[0])
    finally:
        p.terminate()
        p.wait()


got = {n: [] for n in nices}
for r in range(rounds):
    order = nices[r % len(nices):] + nices[:r % len(nices)]
    for n in order:
        h, m = one(n, int(time.time() * 1000) % 10 ** 9)
        got[n].append((h, m))
        print("round %d nice %3d  hits %7.0f req/s p50 %6.2f ms p99 %6.2f ms | misses %5.0f req/s p50 %6.1f ms "
              "p99 %6.1f ms" % ((r, n) + h + m), flush=True)
for n in nices:
    med = lambda i, j: statistics.median(x[i][j] for x in got[n])
    print("nice %3d  hits %7.0f req/s p50 %6.2f p99 %6.2f | misses %5.0f req/s p50 %6.1f p99 %6.1f (medians)" % (
        n, med(0, 0), med(0, 1), med(0, 2), med(1, 0), med(1, 1), med(1, 2)))
shutil.rmtree(tmp, ignore_errors=True)
