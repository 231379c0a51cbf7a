"""bench/lib/micro.py — `bench/run --micro`: the micro-benchmarks of the
other issues, run by the same command.

1. Renders per second of ONE isolate in process, no HTTP: bench/render_one.c
   (rustyssr's shim, V8 10.2) against bench/node/render-bench.js --encode
   (Node 20), the same 64 catalogue URLs in turn, runs alternated (as
   bench/render.sh does).
2. The cache structures: bench/cache_bench.c (eviction hit ratios, L1
   lookup, L2 lookups by shard count and threads, entry build); its
   Markdown output is kept as is.
"""
import json
import os
import subprocess

from measure import med


def _urls64():
    cats = ["shoes", "electronics", "clothes", "home", "toys", "books", "beauty", "sport"]
    return ["/catalog/shoes?page=2" if i == 0 else "/catalog/%s?page=%d" % (cats[i % 8], 1 + (i >> 3))
            for i in range(64)]


def _build(ctx):
    root, tmp = ctx.root, ctx.tmp
    libdir = os.path.join(root, "build/deps/root/usr/lib/x86_64-linux-gnu")
    render_one = os.path.join(tmp, "render_one")
    subprocess.run(["gcc", "-O2", "-I" + os.path.join(root, "shim"), os.path.join(root, "bench/render_one.c"),
                    "-o", render_one, os.path.join(root, "build/release/librs_shim.a"),
                    os.path.join(libdir, "libnode.so.108"), "-Wl,-rpath," + libdir,
                    "-lstdc++", "-lpthread", "-lm"], check=True)
    pc = subprocess.run(["pkg-config", "--cflags", "--libs", "libuv", "libxxhash", "zlib", "libbrotlienc"],
                        check=True, capture_output=True, text=True).stdout.split()
    cache_bench = os.path.join(tmp, "cache_bench")
    subprocess.run(["cc", "-O2", "-DNDEBUG", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "-I" + os.path.join(root, "core/base"), "-I" + os.path.join(root, "core/cache"), "-o", cache_bench,
                    os.path.join(root, "bench/cache_bench.c"), os.path.join(root, "core/cache/rs_cache.c"),
                    os.path.join(root, "core/cache/rs_entry.c"), os.path.join(root, "core/base/rs_common.c")] +
                   pc + ["-lpthread", "-lm"], check=True)
    return render_one, cache_bench


def run(ctx):
    render_one, cache_bench = _build(ctx)
    urls = _urls64()
    secs = 2 if ctx.quick else 5
    rows = []
    ctx.log("micro: one isolate in process, %d x %d s each, alternated" % (ctx.runs, secs))
    node_args = []
    for u in urls:
        node_args += ["--url", u]
    for i in range(ctx.runs):
        a = json.loads(subprocess.run([render_one, "--seconds", str(secs), "--warmup", "1", "--json",
                                       ctx.bundle] + urls, check=True, capture_output=True, text=True).stdout)
        b = json.loads(subprocess.run(["node", os.path.join(ctx.root, "bench/node/render-bench.js"),
                                       "--seconds", str(secs), "--warmup", "1", "--encode", "--json",
                                       "--bundle", ctx.bundle] + node_args,
                                      check=True, capture_output=True, text=True).stdout)
        rows.append((a, b))
        ctx.log("  micro run %d: shim %s renders/s (%s µs), node %s renders/s (%s µs)" % (
            i + 1, a["renders_per_s"], a["us_per_render"], b["renders_per_s"], b["us_per_render"]))
    cb_runs = "3" if ctx.quick else "5"
    cb_secs = "0.1" if ctx.quick else "0.3"
    ctx.log("micro: cache_bench %s runs of %s s (hit ratios, L1, L2 by shards, entry build)" % (cb_runs, cb_secs))
    cb = subprocess.run([cache_bench, cb_runs, cb_secs, "hit,l1,l2,build"], check=True,
                        capture_output=True, text=True).stdout
    ctx.results["micro"] = {"isolate": rows, "isolate_seconds": secs, "cache_bench": cb,
                            "cache_bench_args": "%s runs of %s s" % (cb_runs, cb_secs)}


def markdown(ctx, fmt_range):
    m = ctx.results.get("micro")
    if not m:
        return ""
    rows = m["isolate"]
    a = [r[0]["renders_per_s"] for r in rows]
    b = [r[1]["renders_per_s"] for r in rows]
    ratio = [x / y for x, y in zip(a, b)]
    out = ["## Micro-benchmarks (`--micro`)", "",
           "### One isolate, in process, no HTTP", "",
           "`bench/render_one.c` (rustyssr's shim, V8 %s) against `bench/node/render-bench.js --encode` "
           "(Node %s, V8 %s): the demo page over 64 catalogue URLs in turn, %d s a run after a 1 s warm-up, "
           "runs alternated. The ceiling of the miss path is render threads × this figure." % (
               rows[0][0]["v8"], ctx.versions.get("node", "?"), ctx.versions.get("node_v8", "?"),
               m["isolate_seconds"]), "",
           "| engine | renders/s | µs/render |", "|---|---|---|",
           "| rustyssr shim (V8 %s) | %s | %s |" % (rows[0][0]["v8"], fmt_range(a, 0),
                                                   fmt_range([r[0]["us_per_render"] for r in rows], 0)),
           "| Node %s | %s | %s |" % (ctx.versions.get("node", "?"), fmt_range(b, 0),
                                      fmt_range([r[1]["us_per_render"] for r in rows], 0)),
           "", "shim / Node: %s" % fmt_range(ratio, 2), "",
           "### Cache structures (`bench/cache_bench.c`, %s)" % m["cache_bench_args"], ""]
    cb = m["cache_bench"].strip().splitlines()
    # its own headings are ###; keep them under this section
    out += [("#" + l) if l.startswith("### ") else l for l in cb]
    out.append("")
    return "\n".join(out)
