"""bench/lib/report.py — RESULTS.md (Markdown tables, median with min–max,
the goals met or missed) and results.png (gnuplot: requests/s and p99 by
scenario and server) from ctx.results.
"""
import math
import os
import statistics
import subprocess

import micro

MAIN = ["hit", "hit-many", "miss", "mixed", "br", "304"]
WHAT = {
    "hit": "one URL, warm cache",
    "hit-many": "10,000 URLs, Zipf(0.99), warm",
    "miss": "every request a new URL (render; the cache-off row is the render pool alone)",
    "mixed": "hit-many set, short TTL (~5% render)",
    "br": "hit with Accept-Encoding: br",
    "304": "hit with If-None-Match",
}
SHORT = {"nginx": "nginx", "nginx-lua": "nginx+lua", "node": "Node"}
# chart columns: server kinds, in this order
KINDS = [("rustyssr", "rustyssr"), ("nginx", "nginx (files)"), ("nginx-lua", "nginx + lua dict"),
         ("node", "Node 20 cluster")]


def _fmt(x, dec):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return ("%." + str(dec) + "f") % x


def dec_for(v, kind):
    if kind == "rps":
        return 0
    if kind == "ratio":
        return 2
    m = statistics.median(v)
    return 3 if m < 1 else (2 if m < 10 else 1)


def fmt_range(v, dec=None, kind="ms"):
    """'median (min–max)'; the single value when there is one."""
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return "—"
    d = dec if dec is not None else dec_for(v, kind)
    if len(v) == 1 or min(v) == max(v):
        return _fmt(statistics.median(v), d)
    return "%s (%s–%s)" % (_fmt(statistics.median(v), d), _fmt(min(v), d), _fmt(max(v), d))


def _rs_entry(res):
    for name, v in res.items():
        if v["kind"] == "rustyssr":
            return name, v
    return None, None


def _paired_ratio(a_runs, b_runs):
    return [a["rps"] / b["rps"] for a, b in zip(a_runs, b_runs) if b["rps"] > 0]


def _errors(runs):
    n = sum(r.get("errors", 0) for r in runs)
    if not n:
        return "0"
    parts = []
    for k in ("status", "connect", "read", "write", "timeout"):
        s = sum(r.get(k, 0) for r in runs)
        if s:
            parts.append("%s %d" % ("non-2xx/3xx" if k == "status" else k, s))
    return "**%d** (%s)" % (n, ", ".join(parts))


def goals(ctx):
    """[(goal, figure, met: bool|None)]"""
    R = ctx.results
    out = []

    def ratio(sc, kind, target, text):
        res = R.get(sc)
        if not res:
            out.append((text, "not measured", None))
            return
        rn, rv = _rs_entry(res)
        peer = [v for v in res.values() if v["kind"] == kind]
        if not rv or not peer:
            out.append((text, "not measured", None))
            return
        rr = _paired_ratio(rv["runs"], peer[0]["runs"])
        m = statistics.median(rr)
        out.append((text, "%sx (%s req/s vs %s)" % (fmt_range(rr, 2), _fmt(statistics.median(
            [r["rps"] for r in rv["runs"]]), 0), _fmt(statistics.median([r["rps"] for r in peer[0]["runs"]]), 0)),
            m >= target))

    ratio("hit", "nginx", 1.0, "hit ≥ 1.0x nginx serving the file")
    ratio("miss", "node", 1.0, "miss ≥ 1.0x the Node 20 cluster")
    res = R.get("miss") or {}
    off = [v for v in res.values() if v["kind"] == "rustyssr-nocache"]
    nd = [v for v in res.values() if v["kind"] == "node"]
    if off and nd and out and out[-1][2] is not None:
        rr = _paired_ratio(off[0]["runs"], nd[0]["runs"])
        t, f, m = out[-1]
        out[-1] = (t, f + "; the render pool alone (`render = { cache = false }`, no variants built): %sx" % (
            fmt_range(rr, 2)), m)
    ratio("hit-many", "nginx-lua", 1.2, "hit-many ≥ 1.2x nginx + lua shared dict")
    h = R.get("herd")
    if h:
        rn, rv = _rs_entry(h)
        rr = [r["renders"] for r in rv["runs"]]
        out.append(("herd (500 connections, one cold URL) renders exactly 1", "renders per run: %s" % (
            ", ".join("%d" % x for x in rr)), all(x == 1 for x in rr)))
    else:
        out.append(("herd renders exactly 1", "not measured", None))
    parts, ok = [], True
    for sc in MAIN + ["herd"]:
        res = R.get(sc)
        if not res:
            continue
        rn, rv = _rs_entry(res)
        if not rv:
            continue
        q = [r["p99"] / r["p50"] for r in rv["runs"] if r["p50"] > 0]
        m = statistics.median(q)
        ok = ok and m <= 3.0
        peers = []
        for v in res.values():
            if v["kind"] in ("nginx", "nginx-lua", "node") and v["runs"]:
                pq = [r["p99"] / r["p50"] for r in v["runs"] if r["p50"] > 0]
                if pq:
                    peers.append("%s %s" % (SHORT[v["kind"]], _fmt(statistics.median(pq), 1)))
        parts.append("%s %s%s%s" % (sc, _fmt(m, 1), "" if m <= 3.0 else " ✗",
                                    (" (" + ", ".join(peers) + ")") if peers else ""))
    out.append(("p99 ≤ 3x p50 in every rustyssr scenario", "rustyssr's p99/p50 (the peers' in brackets): " +
                "; ".join(parts), ok if parts else None))
    return out


def _mem(v):
    """A single process: its peak RSS (VmHWM). Several (nginx, Node): the
    largest proportional set size seen after a run, summed over them, so
    that nginx's shared dict is not counted once per worker (marked *)."""
    if v.get("processes", 1) <= 1 or v["kind"].startswith("rustyssr"):
        return _fmt(v.get("peak_rss_mb"), 0)
    return _fmt(v.get("peak_pss_mb"), 0) + "*"


def _main_table(ctx):
    R = ctx.results
    lines = ["| scenario | server | req/s | p50 ms | p99 ms | p99.9 ms | errors | CPU s / run | CPU µs / req "
             "| memory MiB | rustyssr / this |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for sc in MAIN:
        res = R.get(sc)
        if not res:
            continue
        rn, rv = _rs_entry(res)
        first = True
        for name, v in res.items():
            runs = v["runs"]
            if not runs:
                continue
            ratio = "—" if name == rn or rv is None else fmt_range(_paired_ratio(rv["runs"], runs), 2) + "x"
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                ("**%s**" % sc) if first else "", ("**%s**" % v["label"]) if name == rn else v["label"],
                fmt_range([r["rps"] for r in runs], kind="rps"),
                fmt_range([r["p50"] for r in runs]), fmt_range([r["p99"] for r in runs]),
                fmt_range([r["p999"] for r in runs]), _errors(runs),
                fmt_range([r["cpu_s"] for r in runs], 1), fmt_range([r["cpu_us_per_req"] for r in runs], 0),
                _mem(v), ratio))
            first = False
    return lines


def _herd_table(ctx):
    h = ctx.results.get("herd")
    if not h:
        return []
    lines = ["| server | renders per herd | coalesced waits | answered | X-Cache | p50 ms | p99 ms | max ms "
             "| errors | CPU s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in h.items():
        runs = v["runs"]
        xc = {}
        for r in runs:
            for k, n in r["xcache"].items():
                xc[k] = xc.get(k, 0) + n
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |" % (
            v["label"], ", ".join("%d" % r["renders"] for r in runs),
            ", ".join("%d" % r["coalesced"] for r in runs) if v["kind"] == "rustyssr" else "—",
            ", ".join("%d" % r["answered"] for r in runs),
            " ".join("%s %d" % kv for kv in sorted(xc.items())),
            fmt_range([r["p50"] for r in runs]), fmt_range([r["p99"] for r in runs]),
            fmt_range([r["max"] for r in runs]), sum(r["errors"] for r in runs),
            fmt_range([r["cpu_s"] for r in runs], 2)))
    return lines


def _scaling_table(ctx):
    lines = []
    for sc, what in (("scale-hit", "hit"), ("scale-miss", "miss")):
        res = ctx.results.get(sc)
        if not res:
            continue
        if not lines:
            lines = ["| scenario | workers = render threads | pin | req/s | p50 ms | p99 ms | CPU µs / req "
                     "| pin on / pin off |", "|---|---|---|---|---|---|---|---|"]
        by = {(v["workers"], v["pin"]): v for v in res.values()}
        for (n, pin), v in sorted(by.items(), key=lambda kv: (kv[0][0], not kv[0][1])):
            runs = v["runs"]
            other = by.get((n, not pin))
            ratio = fmt_range(_paired_ratio(runs, other["runs"]), 2) + "x" if pin and other else ""
            lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                what, n, "on" if pin else "off", fmt_range([r["rps"] for r in runs], kind="rps"),
                fmt_range([r["p50"] for r in runs]), fmt_range([r["p99"] for r in runs]),
                fmt_range([r["cpu_us_per_req"] for r in runs], 0), ratio))
        one, two = by.get((1, True)), by.get((2, True))
        if one and two:
            lines.append("| %s | 2 vs 1 | on | %sx | | | | |" % (
                what, fmt_range(_paired_ratio(two["runs"], one["runs"]), 2)))
    return lines


def markdown(ctx):
    m = ctx.machine
    v = ctx.versions
    mode = "`bench/run %s`" % " ".join(ctx.argv) if ctx.argv else "`bench/run`"
    L = ["# Benchmark results", "",
         "Written by %s on %s (%.0f min), %d run%s of %d s per server and scenario after a %d s warm-up, "
         "servers alternated within each round. wrk `-t%d -c%d --latency` on loopback; p99.9 from wrk's "
         "`done()` (`bench/scenarios/report.lua`). Each figure is the median of the runs, with the range "
         "(min–max) in brackets; \"rustyssr / this\" pairs the runs of one round." % (
             mode, ctx.date, ctx.elapsed / 60, ctx.runs, "" if ctx.runs == 1 else "s", ctx.duration, ctx.warmup,
             ctx.wrk_threads, ctx.conns), "",
         "Reproduce with `bench/run` (set-up included; see `bench/README.md`).", "",
         "## Machine", "",
         "| | |", "|---|---|",
         "| CPU | %s, %d cores (`nproc`)%s |" % (m["cpu"], m["nproc"], m.get("extra", "")),
         "| memory | %s |" % m["mem"],
         "| kernel | %s |" % m["kernel"],
         "| load average | %s at the start, %s at the end (1-minute) |" % (m["load_start"], m.get("load_end", "?")),
         "| rustyssr | %s, commit %s |" % (v.get("rustyssr"), v.get("commit")),
         "| nginx | %s, lua-nginx-module (libnginx-mod-http-lua) %s |" % (v.get("nginx"), v.get("nginx_lua")),
         "| Node.js | %s (V8 %s) |" % (v.get("node"), v.get("node_v8")),
         "| wrk | %s |" % v.get("wrk"),
         "",
         "wrk, the servers and the clients share the same %d cores: every server here gets less than the "
         "whole machine, and so does wrk; the ratios, taken in one sitting with runs alternated, are the "
         "figures to compare." % m["nproc"], ""]
    if ctx.failures:
        L += ["## Failures", ""] + ["- **%s**: %s" % f for f in ctx.failures] + [""]
    L += ["## Goals", "", "| goal | this run | |", "|---|---|---|"]
    for text, fig, met in goals(ctx):
        L.append("| %s | %s | %s |" % (text, fig, "—" if met is None else ("**met**" if met else "**missed**")))
    L += ["", "## Scenarios", ""]
    L += _main_table(ctx)
    L += ["", "What each scenario sends (all on the demo page, `bench/app`, ~15.4 KB of HTML):", ""]
    for sc in MAIN:
        if sc in ctx.results:
            L.append("- **%s**: %s." % (sc, WHAT[sc]))
    L += ["", "Servers: rustyssr with `workers = \"auto\"`, `render.threads = \"auto\"`, one route "
          "`ssr.route(\"GET\", \"/*\", { render = true })` (cache on; a miss builds the compressed variant its client takes, and a background job the others when another client first asks for one); "
          "nginx from files with `sendfile`, `open_file_cache`, `etag on`, `worker_processes auto`, the br "
          "scenario from a precompressed `page.html.br` sent with `Content-Encoding: br`; nginx + "
          "lua-nginx-module with every page in a `lua_shared_dict`, the key built from `ngx.var.uri` and "
          "`ngx.var.args`; `bench/node/server.js`, one worker per core, `--cache none` (miss) or `--cache lru`. "
          "CPU is the server's own (utime + stime of all its processes, from `/proc`). Memory: rustyssr's "
          "peak RSS (VmHWM) at the end of the scenario; for the servers of several processes (*: nginx's "
          "master and workers, Node's primary and workers) the largest proportional set size (PSS, shared "
          "pages such as nginx's shared dict divided among the processes) seen after a run.", ""]
    L += ["Checks made during the run:", ""]
    for c in ctx.checks:
        L.append("- %s %s: %s" % ("✓" if c["ok"] else "✗ **FAILED**", c["scenario"], c["what"]))
    noise = []
    for sc in MAIN + ["scale-hit", "scale-miss"]:
        v = [r["others_cpu_share"] for x in ctx.results.get(sc, {}).values() for r in x.get("runs", [])
             if "others_cpu_share" in r]
        if v:
            noise.append("%s %s%%" % (sc, fmt_range([100 * x for x in v], 0)))
    if noise:
        L.append("- noise: share of the machine's CPU used by other processes (not the server, wrk or bench/run) "
                 "during the measured runs: " + ", ".join(noise) + ".")
    for k in ("hit-many", "mixed-model", "mixed-preroll", "mixed", "render-nice"):
        if k in ctx.notes:
            L.append("- %s: %s." % (k.split("-")[0] if k.startswith("mixed") else k, ctx.notes[k]))
    L.append("")
    herd = _herd_table(ctx)
    if herd:
        L += ["## Herd", "",
              "500 connections opened at once, then the same GET for one cold URL on each (Connection: "
              "close; every request but its last byte sent first, then the last bytes in a tight loop, so "
              "that the requests complete within a few milliseconds), a new URL per run. Renders counted "
              "from rustyssr's `rustyssr_renders_total` and the Node peer's `/stats`; coalesced waits from "
              "`rustyssr_cache_coalesced_total` (requests that waited for the one render rather than "
              "starting their own; they answer `X-Cache: MISS` with its page). Latency from a request's "
              "last byte to its answer's last byte. Each Node worker renders once: its render is "
              "synchronous, so the requests queued behind it find the page in that worker's LRU.", ""] + herd + [""]
    sc = _scaling_table(ctx)
    if sc:
        L += ["## Scaling and pinning", "",
              "rustyssr with 1 and 2 loop threads (`workers`) and as many render threads, pinning on and off "
              "(`pin = false`), four instances alternated within each round; the hit and miss scenarios above.",
              ""] + sc + [""]
    mic = micro.markdown(ctx, lambda v, d: fmt_range(v, d))
    if mic:
        L += [mic]
    if ctx.chart:
        L += ["## Chart", "", "![requests/s and p99 by scenario and server](%s)" % os.path.basename(ctx.chart), ""]
    return "\n".join(L)


def chart(ctx, path):
    """results.png: requests/s and p99 (log scales), error bars min–max."""
    dat = path + ".dat"
    rows = []
    for sc in MAIN:
        res = ctx.results.get(sc)
        if not res:
            continue
        cells = []
        for metric in ("rps", "p99"):
            for kind, _ in KINDS:
                v = [x for x in res.values() if x["kind"] == kind]
                vals = [r[metric] for r in v[0]["runs"]] if v and v[0]["runs"] else []
                if vals:
                    cells += ["%.4g" % statistics.median(vals), "%.4g" % min(vals), "%.4g" % max(vals)]
                else:
                    cells += ["NaN", "NaN", "NaN"]
        rows.append('"%s" %s' % (sc, " ".join(cells)))
    if not rows:
        return None
    with open(dat, "w") as f:
        f.write("\n".join(rows) + "\n")
    n = len(KINDS)

    def plot(base):
        parts = []
        for i, (_, title) in enumerate(KINDS):
            c = base + 3 * i
            parts.append("'%s' using %d:%d:%d%s title '%s'" % (dat, c, c + 1, c + 2, ":xtic(1)" if i == 0 else "",
                                                              title))
        return "plot " + ", ".join(parts)

    script = """set terminal pngcairo size 900,640 font "DejaVu Sans,9"
set output '%s'
set datafile missing "NaN"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set key inside right top horizontal font ",8"
set multiplot layout 2,1 title "rustyssr bench/run, %s (%d cores), %s: median of %d run(s), bars min–max"
set ylabel "requests/s (log)"
set yrange [100:500000]
set format y "%%.0f"
%s
unset key
set ylabel "p99 latency, ms (log)"
set yrange [0.1:3000]
set format y "%%g"
%s
unset multiplot
""" % (path, ctx.machine["cpu"], ctx.machine["nproc"], ctx.date[:10], ctx.runs, plot(2), plot(2 + 3 * n))
    gp = path + ".gp"
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    os.unlink(dat)
    os.unlink(gp)
    if r.returncode != 0:
        ctx.log("gnuplot failed: " + r.stderr.strip())
        return None
    return path
