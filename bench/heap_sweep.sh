#!/usr/bin/env bash
# bench/heap_sweep.sh — how the V8 semi-space (render.semi_space_mb; the
# young generation is 3x it) moves one isolate's renders/s on the demo page,
# and Node 20 on the same page in the same sitting. bench/render_one.c (the
# shim, V8 10.2, no HTTP) over the 64 catalogue URLs of bench/render.sh, one
# run per size and Node per round, the order of the sizes rotated from round
# to round; min / median / max per size, both per wall-clock second and per
# CPU second of the process (all its threads, V8's GC helpers included): on a
# shared machine the second is the one to read, time slicing does not move it.
#
#   bench/heap_sweep.sh [ROUNDS=5]   env: SECONDS_PER_RUN=4 SIZES="1 2 4 8 16 32"
#
# Needs node (20), gcc and a built tree (build/release/librs_shim.a: it
# builds rs_shim when missing). Prints a Markdown table on stdout.
source "$(dirname "$0")/lib/common.sh"
rounds=${1:-5}
secs=${SECONDS_PER_RUN:-4}
read -r -a sizes <<<"${SIZES:-1 2 4 8 16 32}"
build="$here/build/release"
command -v node >/dev/null || { echo "heap_sweep.sh: node (20) is needed" >&2; exit 1; }
bench_bundle
bench_tmp
[ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" >/dev/null
cmake --build "$build" -j2 --target rs_shim >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
bench_render_one "$build"
bench_catalogue_urls
rps() { python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["renders_per_s"], d["cpu_renders_per_s"])'; }

echo "# Semi-space sweep — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "$(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg); node $(node --version); $rounds rounds of ${secs} s runs (1 s warm-up each)"
echo
declare -A got cpu
n=${#sizes[@]}
for r in $(seq 0 $((rounds - 1))); do
  for k in $(seq 0 "$n"); do
    idx=$(( (k + r) % (n + 1) ))
    if [ "$idx" = "$n" ]; then
      read -r v c < <(node "$here/bench/node/render-bench.js" --seconds "$secs" --warmup 1 --encode --json "${node_args[@]}" | rps)
      got[node]+=" $v"; cpu[node]+=" $c"
    else
      s=${sizes[$idx]}
      read -r v c < <("$tmp/render_one" --seconds "$secs" --warmup 1 --json --semi-space-mb "$s" "$bundle" "${urls[@]}" | rps)
      got[$s]+=" $v"; cpu[$s]+=" $c"
    fi
    echo "heap_sweep.sh: round $((r + 1)) ${sizes[$idx]:-node}: $v/s wall, $c/s CPU" >&2
  done
done
table() { # name of the array
  local -n a=$1
  echo "| semi-space (young gen) | min | median | max | median vs Node 20 |"
  echo "|---|---|---|---|---|"
  nmed=$(python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' ${a[node]})
  for s in "${sizes[@]}" node; do
    python3 - "$s" "$nmed" ${a[$s]} <<'PY'
import sys, statistics
s, nmed = sys.argv[1], float(sys.argv[2]); v = sorted(float(x) for x in sys.argv[3:])
m = statistics.median(v)
name = "Node 20 (render-bench.js --encode)" if s == "node" else "%s MB (%d MB)" % (s, 3 * int(s))
print("| %s | %.0f | %.0f | %.0f | %.2fx |" % (name, v[0], m, v[-1], m / nmed))
PY
  done
}
echo "Renders per CPU second (the process's user + system time, all threads):"
echo
table cpu
echo
echo "Renders per wall-clock second:"
echo
table got
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
