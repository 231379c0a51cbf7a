#!/usr/bin/env bash
# bench/ab_flags.sh — V8 flags for one isolate, in process, no HTTP
# (bench/render_one.c, as bench/heap_sweep.sh does for the semi-space):
# each flag set in turn, ROUNDS alternated rounds of SECS seconds (1 s
# warm-up each), renders per CPU second (the figure the shared machine's
# load moves least); the medians, and the ratio to the first set paired
# round by round. Node 20 (bench/node/render-bench.js --encode) with `node`.
#
#   bench/ab_flags.sh ROUNDS SECS "" "--no-flush-bytecode" "--max-lazy" [node]
#
# Needs a built tree (build/release/librs_shim.a) and gcc.
source "$(dirname "$0")/lib/common.sh"
rounds=$1 secs=$2
shift 2
bench_tmp
bench_render_one "${BUILD:-$here/build/release}"
bench_bundle
bench_catalogue_urls
sets=("$@")
n=${#sets[@]}
for r in $(seq 0 $((rounds - 1))); do
  for k in $(seq 0 $((n - 1))); do
    idx=$(( (k + r) % n ))
    s=${sets[$idx]}
    if [ "$s" = node ]; then
      c=$(node "$here/bench/node/render-bench.js" --seconds "$secs" --warmup 1 --encode --json "${node_args[@]}" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_renders_per_s"])')
    else
      c=$("$tmp/render_one" --seconds "$secs" --warmup 1 --json --v8-flags "$s" "$bundle" "${urls[@]}" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_renders_per_s"])')
    fi
    echo "$r	$idx	$c	${s:-(none)}"
  done
done | tee "$tmp/runs.tsv" >&2
python3 - "$tmp/runs.tsv" "${sets[@]}" <<'EOF'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
sets = sys.argv[2:]
by = {}
for r, i, c, _ in rows:
    by.setdefault(int(i), {})[int(r)] = float(c)
base = by[0]
print("| V8 flags | renders per CPU second, median (min–max) | vs `%s`, paired |" % (sets[0] or "(none)"))
print("|---|---|---|")
for i, s in enumerate(sets):
    v = list(by[i].values())
    rr = [by[i][r] / base[r] for r in by[i] if r in base]
    print("| `%s` | %.0f (%.0f–%.0f) | %.3f (%.3f–%.3f) |" % (s or "(none)", statistics.median(v), min(v), max(v),
          statistics.median(rr), min(rr), max(rr)))
EOF
