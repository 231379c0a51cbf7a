"""bench/lib/run.py — the body of bench/run (the shell script installs and
builds what is missing, then runs this). See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import procs          # noqa: E402
import scenarios      # noqa: E402
import report         # noqa: E402
import micro          # noqa: E402

ALL = ["hit", "br", "304", "hit-many", "miss", "mixed", "herd", "scaling"]


class Ctx:
    pass


# what last-run.json keeps of a run: enough to write its report again
SAVED = ["results", "checks", "notes", "machine", "versions", "failures", "argv", "date", "elapsed", "runs",
         "duration", "warmup", "conns", "wrk_threads", "quick"]


def rewrite(path, out):
    ctx = Ctx()
    with open(path) as f:
        d = json.load(f)
    for k in SAVED:
        setattr(ctx, k, d.get(k))
    ctx.failures = [tuple(x) for x in ctx.failures or []]
    ctx.log = lambda msg: print(msg, file=sys.stderr)
    out = out or os.path.join(os.path.dirname(HERE), "results")
    os.makedirs(out, exist_ok=True)
    ctx.chart = report.chart(ctx, os.path.join(out, "results.png"))
    with open(os.path.join(out, "RESULTS.md"), "w") as f:
        f.write(report.markdown(ctx))
    print("wrote %s" % os.path.join(out, "RESULTS.md"))


def sh(argv, err=False):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (r.stderr if err else r.stdout).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def machine(ctx):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.0f GiB" % (int(line.split()[1]) / 2**20)
    extra = []
    for line in sh(["lscpu"]).splitlines():
        k, _, v = line.partition(":")
        if k.strip() in ("Hypervisor vendor", "L3 cache"):
            extra.append("%s %s" % (k.strip().replace("Hypervisor vendor", "hypervisor"), v.strip()))
    ctx.machine = {"cpu": cpu, "nproc": os.cpu_count(), "mem": mem, "kernel": platform.release(),
                   "load_start": loadavg(), "extra": ("; " + ", ".join(extra)) if extra else ""}
    rev = sh(["git", "-C", ctx.root, "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", ctx.root, "status", "--porcelain", "--", "core", "lua", "shim", "CMakeLists.txt"])
    ctx.versions = {
        "rustyssr": sh([ctx.rustyssr, "-V"]),
        "commit": rev + (" (with uncommitted changes in core/, lua/ or shim/)" if dirty else ""),
        "nginx": sh(["nginx", "-v"], err=True).replace("nginx version: ", ""),
        "nginx_lua": sh(["dpkg-query", "-W", "-f", "${Version}", "libnginx-mod-http-lua"]),
        "node": sh(["node", "--version"]),
        "node_v8": sh(["node", "-p", "process.versions.v8"]),
        "wrk": (sh(["wrk", "-v"]).splitlines() or ["?"])[0].split(" Copyright")[0],
    }


def run_phases(ctx, phases, log):
    """Run each (name, fn) in turn: a phase that fails is logged and counted
    in ctx.failures and the next one runs; Ctrl-C (or SIGTERM/SIGHUP, raised
    as KeyboardInterrupt) stops them all. Every server started is stopped in
    the end. Returns (interrupted, the process groups still running)."""
    interrupted = False
    try:
        for name, fn in phases:
            log("== %s (load average %s)" % (name, loadavg()))
            try:
                fn()
            except KeyboardInterrupt:
                raise
            except Exception as e:
                ctx.failures.append((name, str(e).strip().splitlines()[0] if str(e).strip() else repr(e)))
                log("%s FAILED:\n%s" % (name, traceback.format_exc()))
    except KeyboardInterrupt as e:
        interrupted = True
        log("interrupted (%s): stopping everything" % (e or "SIGINT"))
    finally:
        procs.stop_all()
        left = procs.leftovers()
        if left:
            log("STILL RUNNING after stop (pgrep -g): %s" % left)
        else:
            log("all %d server process groups stopped (pgrep -g finds none)" % procs.started_count())
    return interrupted, left


def start(ctx, prefix, log_name):
    """What bench/run and gateway.py (hooks.sh, proxy.sh) do first: ctx.tmp
    ($BENCH_TMP, or a new directory named PREFIX...) with the run's copy of
    ctx.rustyssr; ctx.log, a line to stderr and to bench/results/LOG_NAME;
    SIGTERM and SIGHUP raise KeyboardInterrupt (the phases stop their
    servers); ctx.machine and ctx.date. Returns (log, the start's
    time.monotonic(), bench/results)."""
    ctx.tmp = os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix=prefix)
    os.chmod(ctx.tmp, 0o755)                 # nginx's workers run as another user
    procs.set_state_dir(ctx.tmp)
    # Every rustyssr of the run is this one binary, even if the build tree
    # is rebuilt meanwhile (its RUNPATH to libnode is absolute).
    copy = os.path.join(ctx.tmp, "rustyssr")
    shutil.copy2(ctx.rustyssr, copy)
    ctx.rustyssr = copy
    t_start = time.monotonic()
    results_dir = os.path.join(ctx.root, "bench", "results")      # git-ignored: logs, raw figures
    os.makedirs(results_dir, exist_ok=True)
    logf = open(os.path.join(results_dir, log_name), "w")

    def log(msg):
        line = "[%5.0fs] %s" % (time.monotonic() - t_start, msg)
        print(line, file=sys.stderr, flush=True)
        logf.write(line + "\n")
        logf.flush()
    ctx.log = log

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    machine(ctx)
    ctx.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return log, t_start, results_dir


def main():
    ap = argparse.ArgumentParser(prog="bench/run", description=(
        "rustyssr's benchmark suite: every scenario against its peers, on loopback, "
        "written to RESULTS.md and results.png. See bench/README.md."))
    ap.add_argument("--quick", action="store_true", help="1 run of 3 s each, 1 s warm-up (a smoke check, < 3 min)")
    ap.add_argument("--runs", type=int, help="measured runs per server and scenario (default 3)")
    ap.add_argument("--duration", type=int, help="seconds per measured run (default 10)")
    ap.add_argument("--warmup", type=int, help="seconds of warm-up per server and scenario (default 3)")
    ap.add_argument("--micro", action="store_true", help="also run the micro-benchmarks (render per isolate, cache)")
    ap.add_argument("--only", help="comma-separated subset of: " + ",".join(ALL) + (" (and micro)"))
    ap.add_argument("--conns", type=int, default=100, help="wrk connections (default 100)")
    ap.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--out", help="folder for RESULTS.md and results.png (default: bench/ for a full run "
                                  "of every scenario, bench/results/ otherwise)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the configs and server logs")
    ap.add_argument("--render-nice", type=int, default=None,
                    help="rustyssr's render.nice (default: the binary's own, -5; 0 for no render priority)")
    ap.add_argument("--from-json", metavar="FILE", help="only write RESULTS.md and results.png again from the "
                    "raw figures of an earlier run (bench/results/last-run.json), into --out or bench/results/")
    a = ap.parse_args()
    if a.from_json:
        return rewrite(a.from_json, a.out)

    ctx = Ctx()
    ctx.argv = sys.argv[1:]
    ctx.root = os.path.dirname(os.path.dirname(HERE))
    ctx.scenarios = os.path.join(ctx.root, "bench", "scenarios")
    ctx.bundle = os.path.join(ctx.root, "bench", "app", "dist", "server.js")
    ctx.rustyssr = os.environ.get("RUSTYSSR_BIN") or os.path.join(ctx.root, "build", "release", "rustyssr")
    ctx.quick = a.quick
    ctx.runs = a.runs or (1 if a.quick else 3)
    ctx.duration = a.duration or (3 if a.quick else 10)
    ctx.warmup = a.warmup if a.warmup is not None else (1 if a.quick else 3)
    ctx.conns, ctx.wrk_threads = a.conns, a.wrk_threads
    ctx.render_nice = a.render_nice
    ctx.cores = os.cpu_count()
    ctx.nonce = int(time.time()) % 100000 * 1000
    ctx.results, ctx.checks, ctx.notes, ctx.failures = {}, [], {}, []
    if ctx.render_nice is not None:
        ctx.notes["render-nice"] = "rustyssr ran with render.nice = %d (--render-nice)" % ctx.render_nice
    ctx.chart = None
    want = ALL if not a.only else [w.strip() for w in a.only.split(",") if w.strip()]
    bad = [w for w in want if w not in ALL + ["micro"]]
    if bad:
        ap.error("unknown scenario(s): %s" % ", ".join(bad))
    do_micro = a.micro or "micro" in want
    full = not a.quick and not a.only and a.runs in (None, 3) and a.duration in (None, 10)
    out = a.out or (os.path.join(ctx.root, "bench") if full else os.path.join(ctx.root, "bench", "results"))
    os.makedirs(out, exist_ok=True)
    for f in (ctx.rustyssr, ctx.bundle):
        if not os.path.exists(f):
            sys.exit("bench/run: %s is missing (bench/run builds it; see bench/README.md)" % f)

    log, t_start, results_dir = start(ctx, "rustyssr-bench-", "last-run.log")
    log("bench/run: %s; %d run(s) of %d s, warm-up %d s; load average %s; scenarios: %s%s" % (
        ctx.versions["rustyssr"], ctx.runs, ctx.duration, ctx.warmup, ctx.machine["load_start"],
        ",".join(w for w in want if w != "micro"), " + micro" if do_micro else ""))
    static = [w for w in ("hit", "br", "304") if w in want]
    phases = []
    if static:
        phases.append(("hit/br/304", lambda: scenarios.phase_static(ctx, static)))
    for name, fn in (("hit-many", scenarios.phase_hit_many), ("miss", scenarios.phase_miss),
                     ("mixed", scenarios.phase_mixed), ("herd", scenarios.phase_herd),
                     ("scaling", scenarios.phase_scaling)):
        if name in want:
            phases.append((name, lambda fn=fn: fn(ctx)))
    if do_micro:
        phases.append(("micro", lambda: micro.run(ctx)))
    interrupted, left = run_phases(ctx, phases, log)
    if not os.environ.get("BENCH_TMP") and not a.keep_tmp:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    ctx.machine["load_end"] = loadavg()
    ctx.elapsed = time.monotonic() - t_start
    if interrupted:
        sys.exit(130)

    res_md = os.path.join(out, "RESULTS.md")
    png = os.path.join(out, "results.png")
    try:
        ctx.chart = report.chart(ctx, png)
    except Exception:
        log("chart FAILED (RESULTS.md is written without it):\n" + traceback.format_exc())
    with open(res_md, "w") as f:
        f.write(report.markdown(ctx))
    raw = os.path.join(results_dir, "last-run.json")
    for path in (raw, os.path.join(results_dir, "run-%s.json" % time.strftime("%Y%m%d-%H%M%S"))):
        with open(path, "w") as f:
            json.dump({k: getattr(ctx, k) for k in SAVED}, f, indent=1, default=str)
    log("wrote %s%s (raw figures: %s) in %.1f min" % (res_md, (" and " + png) if ctx.chart else "", raw,
                                                       ctx.elapsed / 60))
    print()
    for text, fig, met in report.goals(ctx):
        print("%-8s %s: %s" % ("—" if met is None else ("met" if met else "MISSED"), text, fig))
    failed_checks = [c for c in ctx.checks if not c["ok"]]
    if a.keep_tmp and not os.environ.get("BENCH_TMP"):    # else bench/lib/common.sh's bench_py says it
        log("configs and logs kept in %s" % ctx.tmp)
    if ctx.failures or left:
        sys.exit(2)
    if failed_checks:
        sys.exit(1)


if __name__ == "__main__":
    main()
