#!/usr/bin/env python3
"""bench/ab_miss.py — the miss scenario for binaries side by side: each
rustyssr (NAME=BINARY) and, with `node`, the Node 20 cluster, started in
turn on a free port with bench/run's miss config (workers and render threads
"auto", cache on), a 2 s warm-up, then wrk -t2 -c100 for DUR seconds with
scenarios/unique.lua; the order rotated each round. Prints each run's req/s,
server CPU µs per request (utime + stime of the server's process group,
/proc) and p50/p99, then medians and ratios to the first server paired round
by round. CPU per request is the figure to read on a shared machine.

  bench/ab_miss.py ROUNDS DUR before=/tmp/rustyssr.old after=build/release/rustyssr [node]

A spec NAME=BINARY::LUA adds LUA inside `render = { ... }` (the V8 flags,
say: `lazy=build/release/rustyssr::v8_flags = "--max-lazy"`), so one binary
is compared with itself under other settings.
"""
import os, sys, subprocess, time, json, urllib.request, statistics
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) < 4:
    sys.exit(__doc__)
rounds, dur = int(sys.argv[1]), int(sys.argv[2])
specs = sys.argv[3:]
B = os.path.join(here, 'bench/app/dist/server.js')
sys.path.insert(0, os.path.join(here, 'bench/lib'))
from procs import free_port  # noqa: E402
HZ = os.sysconf('SC_CLK_TCK')
def grp_cpu(pgid):
    t = 0
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            f = open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()
            if int(f[2]) == pgid: t += int(f[11]) + int(f[12])
        except Exception: pass
    return t / HZ
import tempfile  # noqa: E402
tmp = tempfile.mkdtemp(prefix='ab-miss-')


def start(spec, port, admin):
    name, _, binp = spec.partition('=')
    binp, _, extra = binp.partition('::')
    if name == 'node':
        argv = ['node', os.path.join(here, 'bench/node/server.js'), '--port', str(port), '--workers', '2', '--cache', 'none', '--bundle', B, '--quiet']
    else:
        conf = os.path.join(tmp, 'ab-%s.lua' % name)
        open(conf, 'w').write('''local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", workers = "auto", pin = true, log = { level = "warn" },
  render = { bundle = "%s", threads = "auto", %s }, cache = { ttl = 3600, grace = 10 } }
ssr.route("GET", "/*", { render = true })
''' % (port, admin, B, extra))
        argv = [binp, '-c', conf]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/catalog/shoes?page=1&u=probe' % port, timeout=2).read(); return p
        except Exception: time.sleep(0.1)
    raise SystemExit('no start ' + spec)
env = dict(os.environ, BENCH_SCENARIOS=os.path.join(here, 'bench/scenarios'))
def wrk(port, d, nonce):
    out = subprocess.run(['wrk', '-t2', '-c100', '-d%ds' % d, '--latency', '--timeout', '10s', '-s', os.path.join(here, 'bench/scenarios/unique.lua'),
                          'http://127.0.0.1:%d/' % port, '--', nonce], env=env, capture_output=True, text=True).stdout
    return json.loads([l for l in out.splitlines() if l.startswith('BENCH ')][0][6:])
res = {s: [] for s in specs}
for r in range(rounds):
    order = specs[r % len(specs):] + specs[:r % len(specs)]
    for s in order:
        port = free_port()
        p = start(s, port, free_port())
        try:
            wrk(port, 2, 'w%d%s' % (r, port))
            c0 = grp_cpu(p.pid); t0 = time.time()
            d = wrk(port, dur, 'm%d%s' % (r, port))
            c1 = grp_cpu(p.pid)
            rps = d['requests'] / (d['duration_us'] / 1e6)
            res[s].append((rps, (c1 - c0) * 1e6 / d['requests'], d['p50_us'] / 1e3, d['p99_us'] / 1e3))
            print('round %d %-10s %6.0f req/s  %5.0f us CPU/req  p50 %.1f p99 %.1f' % (r, s.split('=')[0], *res[s][-1]), flush=True)
        finally:
            os.killpg(p.pid, 15); p.wait()
base = specs[0]
for s in specs:
    rr = [a[0] / b[0] for a, b in zip(res[s], res[base])]
    cc = [a[1] / b[1] for a, b in zip(res[s], res[base])]
    print('%-10s req/s med %6.0f  CPU/req med %5.0f  | vs %s: req/s %.3f [%.3f-%.3f]  CPU/req %.3f [%.3f-%.3f]' % (
        s.split('=')[0], statistics.median(x[0] for x in res[s]), statistics.median(x[1] for x in res[s]), base.split('=')[0],
        statistics.median(rr), min(rr), max(rr), statistics.median(cc), min(cc), max(cc)))
