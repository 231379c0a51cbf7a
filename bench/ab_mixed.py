#!/usr/bin/env python3
"""bench/ab_mixed.py — the mixed scenario for rustyssr settings side by side:
each NAME=BINARY[::CACHE_LUA[::RENDER_LUA]] is started in turn on a free port with
bench/run's mixed config (workers and render threads "auto", TTL --ttl,
grace 0, CACHE_LUA added inside `cache = { ... }`, RENDER_LUA inside
`render = { ... }`), its 10,000 Zipf pages
filled, then --preroll seconds of the load unmeasured and DUR seconds of
wrk -t2 -c100 with scenarios/zipf.lua measured; the order rotated each
round. Prints each run's req/s, p50, p99, p99/p50, the share of requests
rendered and server CPU µs per request, then the medians.

  bench/ab_mixed.py ROUNDS DUR "before=build/release/rustyssr::ttl_jitter = 0, prefresh = false" \\
      after=build/release/rustyssr [--ttl 4] [--preroll 4]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(here, 'bench/lib'))
from procs import free_port  # noqa: E402
import client  # noqa: E402
from scenarios import ZIPF_S, zipf_urls  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('rounds', type=int)
ap.add_argument('dur', type=int)
ap.add_argument('specs', nargs='+')
ap.add_argument('--ttl', type=int, default=4)
ap.add_argument('--preroll', type=int, default=4)
ap.add_argument('--nice', type=int, default=None)   # render.nice for every spec (default: the binary's)
a = ap.parse_args()
B = os.path.join(here, 'bench/app/dist/server.js')
HZ = os.sysconf('SC_CLK_TCK')
tmp = tempfile.mkdtemp(prefix='ab-mixed-')
urls = zipf_urls()
urls_file = os.path.join(tmp, 'zipf-urls.txt')
open(urls_file, 'w').write('\n'.join(urls) + '\n')
env = dict(os.environ, BENCH_SCENARIOS=os.path.join(here, 'bench/scenarios'))


def grp_cpu(pgid):
    t = 0
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            f = open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()
            if int(f[2]) == pgid:
                t += int(f[11]) + int(f[12])
        except Exception:
            pass
    return t / HZ


def metrics(admin):
    return client.metrics(admin)


def renders(admin):
    return sum(v for k, v in metrics(admin).items() if k.startswith('rustyssr_renders_total{'))


def start(spec, port, admin):
    name, _, binp = spec.partition('=')
    binp, _, extra = binp.partition('::')
    extra, _, rextra = extra.partition('::')
    conf = os.path.join(tmp, 'ab-%s.lua' % name)
    nice = ', nice = %d' % a.nice if a.nice is not None else ''
    nice += ', ' + rextra if rextra else ''
    open(conf, 'w').write('''local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", workers = "auto", pin = true, log = { level = "warn" },
  render = { bundle = "%s", threads = "auto"%s }, cache = { ttl = %d, grace = 0, %s } }
ssr.route("GET", "/*", { render = true })
''' % (port, admin, B, nice, a.ttl, extra))
    p = subprocess.Popen([binp, '-c', conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    for _ in range(300):
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/catalog/shoes?page=1' % port, timeout=2).read()
            return p
        except Exception:
            time.sleep(0.1)
    raise SystemExit('no start ' + spec)


def wrk(port, d, nonce):
    out = subprocess.run(['wrk', '-t2', '-c100', '-d%ds' % d, '--latency', '--timeout', '10s', '-s',
                          os.path.join(here, 'bench/scenarios/zipf.lua'), 'http://127.0.0.1:%d/' % port, '--',
                          urls_file, str(nonce), str(ZIPF_S)], env=env, capture_output=True, text=True).stdout
    return json.loads([ln for ln in out.splitlines() if ln.startswith('BENCH ')][0][6:])


signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # the finally below stops the server
res = {s: [] for s in a.specs}
for r in range(a.rounds):
    order = a.specs[r % len(a.specs):] + a.specs[:r % len(a.specs)]
    for s in order:
        port, admin = free_port(), free_port()
        p = start(s, port, admin)
        try:
            client.fetch_many(port, urls, conns=4)
            wrk(port, a.preroll, 1 + r)
            c0, n0 = grp_cpu(p.pid), renders(admin)
            d = wrk(port, a.dur, 100 + r)
            c1, n1 = grp_cpu(p.pid), renders(admin)
            m = metrics(admin)
            rps = d['requests'] / (d['duration_us'] / 1e6)
            row = (rps, d['p50_us'] / 1e3, d['p99_us'] / 1e3, d['p99_us'] / d['p50_us'],
                   100.0 * (n1 - n0) / d['requests'], (c1 - c0) * 1e6 / d['requests'])
            res[s].append(row)
            print('round %d %-8s %6.0f req/s  p50 %.2f ms  p99 %.1f ms  p99/p50 %.1f  rendered %.1f%%  %3.0f us CPU/req'
                  '  (prefreshes %d)' % ((r, s.split('=')[0]) + row + (m.get('rustyssr_cache_prefreshes_total', 0),)),
                  flush=True)
        finally:
            os.killpg(p.pid, 15)
            p.wait()
for s in a.specs:
    col = lambda i: [x[i] for x in res[s]]
    print('%-8s req/s %6.0f  p50 %.2f  p99 %.1f  p99/p50 %.1f (%.1f-%.1f)  rendered %.1f%%  CPU/req %.0f' % (
        s.split('=')[0], statistics.median(col(0)), statistics.median(col(1)), statistics.median(col(2)),
        statistics.median(col(3)), min(col(3)), max(col(3)), statistics.median(col(4)), statistics.median(col(5))))
