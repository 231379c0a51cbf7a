"""bench/lib/measure.py — one wrk run against one server, with what the
server's side says about it (CPU seconds from /proc, renders from its
counters), and the alternated comparison of several servers.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import procs

WRK_TIMEOUT = "10s"     # a slow render is a slow answer, not a dropped one


class Load:
    """What wrk sends to one server: a request-target, a script and its
    arguments (callables of the run's nonce), extra headers."""

    def __init__(self, target="/", script="report.lua", args=None, headers=None):
        self.target = target
        self.script = script
        self.args = args or (lambda nonce: [])
        self.headers = headers or []


def wrk(ctx, port, load, seconds, nonce):
    """Runs wrk once; returns the parsed BENCH line plus rps (and the raw
    output in 'out')."""
    argv = ["wrk", "-t%d" % ctx.wrk_threads, "-c%d" % ctx.conns, "-d%ds" % seconds, "--latency",
            "--timeout", WRK_TIMEOUT, "-s", os.path.join(ctx.scenarios, load.script)]
    for h in load.headers:
        argv += ["-H", h]
    argv.append("http://127.0.0.1:%d%s" % (port, load.target))
    args = [str(a) for a in load.args(nonce)]
    if args:
        argv += ["--"] + args
    env = dict(os.environ, BENCH_SCENARIOS=ctx.scenarios)
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    line = [l for l in r.stdout.splitlines() if l.startswith("BENCH ")]
    if r.returncode != 0 or not line:
        raise RuntimeError("wrk failed (%d): %s\n%s%s" % (r.returncode, " ".join(argv), r.stdout, r.stderr))
    res = json.loads(line[-1][6:])
    secs = res["duration_us"] / 1e6
    res["rps"] = res["requests"] / secs if secs > 0 else 0.0
    res["socket_errors"] = res["connect"] + res["read"] + res["write"] + res["timeout"]
    res["errors"] = res["socket_errors"] + res["status"]
    for k in ("p50", "p90", "p99", "p999"):
        res[k] = res[k + "_us"] / 1000.0          # ms
    res["out"] = r.stdout
    return res


def _busy_seconds():
    """CPU seconds the whole machine spent busy so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (sum(v[:8]) - v[3] - v[4]) / procs.CLK_TCK


def _own_seconds():
    """CPU seconds of this process and of its finished children (wrk)."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def measure(ctx, server, load, seconds, count_renders=True):
    """One measured run: wrk, with the server's CPU seconds and renders
    before and after, and the share of the machine that other processes
    (neither the server, nor wrk, nor this script) used meanwhile: the
    noise of a shared machine, made visible."""
    ctx.nonce += 1
    cpu0 = server.proc.cpu_seconds()
    r0 = server.renders() if count_renders else None
    busy0, own0, t0 = _busy_seconds(), _own_seconds(), time.monotonic()
    res = wrk(ctx, server.port, load, seconds, ctx.nonce)
    busy1, own1, t1 = _busy_seconds(), _own_seconds(), time.monotonic()
    cpu1 = server.proc.cpu_seconds()
    r1 = server.renders() if count_renders else None
    res["cpu_s"] = cpu1 - cpu0
    others = (busy1 - busy0) - (own1 - own0) - res["cpu_s"]
    res["others_cpu_share"] = max(0.0, others) / ((t1 - t0) * (os.cpu_count() or 1))
    res["pss_mb"] = server.proc.pss_mb()
    res["cpu_us_per_req"] = 1e6 * res["cpu_s"] / res["requests"] if res["requests"] else 0.0
    if r0 is not None and r1 is not None:
        res["renders"] = r1 - r0
        res["render_share"] = res["renders"] / res["requests"] if res["requests"] else 0.0
    del res["out"]
    if not server.proc.alive():
        raise RuntimeError("%s died during the run; log %s:\n%s" % (server.label, server.proc.log_path,
                                                                  server.proc.log_tail()))
    return res


def compare(ctx, scenario, entries, preroll=0):
    """entries: [(server, load)]. A warm-up run each, then ctx.runs rounds,
    each round running every server once, the order rotated from round to
    round. preroll: seconds of the same load, not measured, right before
    each measured run (the mixed scenario: a cache whose pages expire must
    be under load for a TTL before it is in its steady state again).
    Returns {server.name: {label, kind, runs: [...], peak_rss_mb}}."""
    out = {s.name: {"label": s.label, "kind": s.kind, "runs": []} for s, _ in entries}
    ctx.log("%s: warm-up %d s each (%s)" % (scenario, ctx.warmup, ", ".join(s.label for s, _ in entries)))
    for s, load in entries:
        measure(ctx, s, load, ctx.warmup)
    for i in range(ctx.runs):
        k = i % len(entries)
        for s, load in entries[k:] + entries[:k]:
            if preroll:
                ctx.nonce += 1
                wrk(ctx, s.port, load, preroll, ctx.nonce)
            res = measure(ctx, s, load, ctx.duration)
            out[s.name]["runs"].append(res)
            ctx.log("  %-9s run %d  %-28s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  "
                    "errors %d  cpu %.1f s  others %.0f%%%s" % (
                        scenario, i + 1, s.label, res["rps"], res["p50"], res["p99"], res["p999"],
                        res["errors"], res["cpu_s"], 100 * res["others_cpu_share"],
                        ("  renders %d (%.1f%%)" % (res["renders"], 100 * res["render_share"])
                         if "renders" in res else "")))
    for s, _ in entries:
        out[s.name]["peak_rss_mb"] = s.proc.peak_rss_mb()
        out[s.name]["peak_pss_mb"] = max([r["pss_mb"] for r in out[s.name]["runs"]] + [s.proc.pss_mb()])
        out[s.name]["processes"] = len(s.proc.pids())
    return out


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summary(runs, key):
    v = [r[key] for r in runs if key in r]
    if not v:
        return None
    return (statistics.median(v), min(v), max(v))
