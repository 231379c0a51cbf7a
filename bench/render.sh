#!/usr/bin/env bash
# bench/render.sh — the render pool on the demo page (bench/app), against
# Node.js 20 rendering the same bundle. Two figures, one sitting, runs
# alternated, median and range:
#
#  1. one isolate in process, no HTTP: bench/render_one.c (rustyssr's shim,
#     V8 10.2 from libnode108) vs bench/node/render-bench.js --encode (Node
#     20), the same 64 catalogue URLs in turn, renders/s;
#  2. end to end, every request a distinct URL (wrk + a Lua script, so no
#     cache can answer): rustyssr (workers auto, render threads auto, one
#     render route for /*) with the page cache off (the pool alone) and on
#     (every request a miss that also builds the cache entry), vs the Node
#     cluster (bench/node/server.js --workers 2 --cache none); wrk -t2 -c100
#     -d10s --latency, a warm-up each, then alternated runs; req/s, p50, p99,
#     the ratio to Node, and how close rustyssr gets to its in-process
#     ceiling (render threads x figure 1). It also checks that every wrk
#     request was a render (renders / requests from /metrics).
#
#   bench/render.sh [RUNS=3]      env: DURATION=10 (wrk s) RENDER_SECONDS=5
#                                      CONNS=100 THREADS=2 NODE_WORKERS=2
#
# Needs node (20), wrk, gcc, and a built tree (scripts/setup; it builds
# rustyssr, rs_shim and bench/app/dist/server.js when missing). Prints a
# Markdown report on stdout; everything it starts is stopped on exit.
source "$(dirname "$0")/lib/common.sh"
runs=${1:-3}
dur=${DURATION:-10}
rsecs=${RENDER_SECONDS:-5}
conns=${CONNS:-100}
threads=${THREADS:-2}
node_workers=${NODE_WORKERS:-2}
build="$here/build/release"

command -v node >/dev/null || { echo "render.sh: node (20) is needed" >&2; exit 1; }
bench_tools wrk:wrk
command -v gcc >/dev/null || { echo "render.sh: gcc is needed" >&2; exit 1; }

bench_tmp

# ------------------------------------------------------------------ build
log() { echo "render.sh: $*" >&2; }
[ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target rustyssr rs_shim >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; exit 1; }
bin="$build/rustyssr"
bench_render_one "$build"
bench_bundle

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median_range() { # values... → "median (min–max)"
  python3 - "$@" <<'PY'
import sys, statistics
v = sorted(float(x) for x in sys.argv[1:])
fmt = (lambda x: "%.0f" % x) if v[-1] >= 100 else (lambda x: "%.2f" % x)
print("%s (%s–%s)" % (fmt(statistics.median(v)), fmt(v[0]), fmt(v[-1])))
PY
}
median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

bench_catalogue_urls
export BENCH_SCENARIOS="$here/bench/scenarios"   # unique.lua's done() (report.lua): one more line in wrk's output

cores=$(nproc)
v8_rs=$("$tmp/render_one" --seconds 0.01 --warmup 0 --json "$bundle" / | python3 -c 'import json,sys; print(json.load(sys.stdin)["v8"])')
v8_node=$(node -p process.versions.v8)
echo "# Render pool bench — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "$cores cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)); rustyssr V8 $v8_rs; node $(node --version) (V8 $v8_node); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "demo bundle: $(stat -c %s "$bundle") bytes; $runs runs of each, alternated"
echo

# ------------------------------------------------------------------ 1. one isolate
log "1/2: one isolate in process, $runs x ${rsecs}s each"
rs_rps=(); nd_rps=()
echo "## 1. One isolate, in process (64 URLs in turn, ${rsecs} s a run after a 1 s warm-up)"
echo
echo "| run | rustyssr shim renders/s | µs/render | Node 20 renders/s | µs/render | shim/node |"
echo "|---|---|---|---|---|---|"
for i in $(seq 1 "$runs"); do
  a=$("$tmp/render_one" --seconds "$rsecs" --warmup 1 --json "$bundle" "${urls[@]}")
  b=$(node "$here/bench/node/render-bench.js" --seconds "$rsecs" --warmup 1 --encode --json "${node_args[@]}")
  ar=$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["renders_per_s"])')
  au=$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["us_per_render"])')
  br=$(echo "$b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["renders_per_s"])')
  bu=$(echo "$b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["us_per_render"])')
  rs_rps+=("$ar"); nd_rps+=("$br")
  echo "| $i | $ar | $au | $br | $bu | $(python3 -c "print('%.2f' % ($ar / $br))") |"
done
one_rs=$(median "${rs_rps[@]}")
echo
echo "median (range): rustyssr shim $(median_range "${rs_rps[@]}") renders/s; Node $(median_range "${nd_rps[@]}") renders/s"
echo

# ------------------------------------------------------------------ 2. end to end
# Three servers, alternated: rustyssr with the page cache off (the render
# pool alone: what Node --cache none does), rustyssr with the default render
# route (cache on: every distinct URL is a miss, and each miss also builds
# the cache entry, gzip and br variants included, on the render thread), and
# the Node cluster.
names=(rs rsc nd)
declare -A label port admin
label[rs]="rustyssr, render = { cache = false }"
label[rsc]="rustyssr, render = true (cache on, all misses)"
label[nd]="Node cluster, --cache none"
for n in rs rsc nd; do port[$n]=$(free_port); admin[$n]=$(free_port); done
for n in rs rsc; do
  route='{ render = { cache = false } }'
  [ "$n" = rsc ] && route='{ render = true }'
  cat > "$tmp/$n.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:${port[$n]}", admin = "127.0.0.1:${admin[$n]}", workers = "auto", pin = true,
             log = { level = "warn" },
             render = { bundle = "$bundle", threads = "auto" } }
ssr.route("GET", "/*", $route)
LUA
  bench_start "$n" "$bin" -c "$tmp/$n.lua"
done
bench_start nd node "$here/bench/node/server.js" --port "${port[nd]}" --workers "$node_workers" --cache none --quiet
for n in rs rsc nd; do bench_wait "http://127.0.0.1:${port[$n]}/catalog/shoes?page=2"; done
render_threads=$(curl -fsS "http://127.0.0.1:${admin[rs]}/metrics" | grep -c '^rustyssr_render_heap_used_bytes{' || true)
[ "${render_threads:-0}" -gt 0 ] || render_threads=$cores
# the same bytes from all three, or the comparison means nothing
for u in "/catalog/shoes?page=2" "/catalog/books?page=7&sort=cheap&u=x-1"; do
  for n in rs rsc nd; do curl -fsS "http://127.0.0.1:${port[$n]}$u" >"$tmp/$n.html"; done
  cmp -s "$tmp/rs.html" "$tmp/nd.html" && cmp -s "$tmp/rsc.html" "$tmp/nd.html" ||
    { log "rustyssr and node differ on $u"; exit 1; }
done

nonce=0
declare -A sent
sent[rs]=0; sent[rsc]=0; sent[nd]=0
run_wrk() { # seconds name → leaves $tmp/name.out
  nonce=$((nonce + 1))
  wrk -t"$threads" -c"$conns" -d"${1}s" --latency -s "$here/bench/scenarios/unique.lua" "http://127.0.0.1:${port[$2]}/" -- "$nonce" \
    >"$tmp/$2.out" 2>&1
  sent[$2]=$((sent[$2] + $(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$tmp/$2.out")))
}
parse() { # name → "rps p50_ms p99_ms errors" (errors: 0, or "non-2xx=N,timeout=N,...")
  python3 - "$tmp/$1.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
parts = ["non-2xx=%s" % bad.group(1)] if bad else []
if errs:
    parts += ["%s=%s" % (k, v) for k, v in zip(("connect", "read", "write", "timeout"), errs.groups()) if v != "0"]
print("%.0f %.2f %.2f %s" % (rps, p50, p99, ",".join(parts) or "0"))
PY
}

log "2/2: end to end, a 5 s warm-up each, then $runs x ${dur}s each, alternated"
for n in rs rsc nd; do run_wrk 5 "$n"; done
echo "## 2. End to end, every request a distinct URL (wrk -t$threads -c$conns -d${dur}s --latency, loopback)"
echo
echo "rustyssr: workers auto, $render_threads render threads (auto), one render route for /*. Node:"
echo "bench/node/server.js --workers $node_workers --cache none. wrk runs on the same $cores cores as the servers."
echo
echo "| run | server | req/s | p50 ms | p99 ms | errors | vs Node |"
echo "|---|---|---|---|---|---|---|"
declare -A rps p50 p99 line
for i in $(seq 1 "$runs"); do
  declare -A this
  for n in rs rsc nd; do
    run_wrk "$dur" "$n"
    read -r a b c e < <(parse "$n")
    this[$n]=$a
    rps[$n]="${rps[$n]:-} $a"; p50[$n]="${p50[$n]:-} $b"; p99[$n]="${p99[$n]:-} $c"
    line[$n]="| $i | ${label[$n]} | $a | $b | $c | $e |"
  done
  for n in rs rsc nd; do
    echo "${line[$n]} $(python3 -c "print('%.2f' % (${this[$n]} / ${this[nd]}))") |"
  done
done
echo
echo "| server | req/s median (range) | p50 ms | p99 ms | req/s vs Node (median of medians) |"
echo "|---|---|---|---|---|"
nd_med=$(median ${rps[nd]})
for n in rs rsc nd; do
  # shellcheck disable=SC2086
  echo "| ${label[$n]} | $(median_range ${rps[$n]}) | $(median_range ${p50[$n]}) | $(median_range ${p99[$n]}) | $(python3 -c "print('%.2f' % ($(median ${rps[$n]}) / $nd_med))") |"
done
echo
# shellcheck disable=SC2086
python3 - "$render_threads" "$one_rs" "$(median ${rps[rs]})" "$(median ${rps[rsc]})" <<'PY'
import sys
t, one, e2e, e2ec = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ceil = t * one
print("In-process ceiling: %d render threads x %.0f renders/s (figure 1) = %.0f renders/s. End to end, cache off: "
      "%.0f req/s = %.0f%% of it; cache on (all misses): %.0f req/s = %.0f%%." % (t, one, ceil, e2e, 100 * e2e / ceil,
                                                                             e2ec, 100 * e2ec / ceil))
PY
for n in rs rsc; do
  curl -fsS "http://127.0.0.1:${admin[$n]}/metrics" >"$tmp/$n.metrics" 2>/dev/null || continue
  python3 - "$tmp/$n.metrics" "${sent[$n]}" "${label[$n]}" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
out = dict(re.findall(r'^rustyssr_renders_total\{outcome="(\w+)"\} (\S+)', t, re.M))
ok, sent = float(out.get("ok", 0)), int(sys.argv[2])
# slightly over 1: the sanity curls, and requests in flight when wrk stopped counting
print("%s: %d renders for %d wrk requests (%.3f a request; outcomes %s)%s" % (
    sys.argv[3], ok, sent, ok / sent, " ".join("%s=%s" % kv for kv in out.items() if kv[1] != "0"),
    "" if ok / sent >= 0.99 else "  <-- NOT every request rendered: these numbers are invalid"))
PY
done
