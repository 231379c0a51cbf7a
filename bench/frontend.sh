#!/usr/bin/env bash
# bench/frontend.sh — the front end alone against nginx: a fixed `respond`
# route returning a 14 KB page vs nginx serving the same bytes from a file.
# Alternated runs in one sitting; prints each run and the median ratio.
#
#   bench/frontend.sh [RUNS=3] [SECONDS=10]     (CONNS=100 THREADS=2 in env)
#
# Needs wrk and nginx (Debian: wrk, nginx-light); installs them if missing.
# RUSTYSSR_BIN: another binary (default build/release/rustyssr, built when missing).
source "$(dirname "$0")/lib/common.sh"
runs=${1:-3}
secs=${2:-10}
conns=${CONNS:-100}
threads=${THREADS:-2}

bench_tools wrk:wrk nginx:nginx-light
bench_binary
bench_tmp
bench_page "$tmp/page.html"
size=$(stat -c %s "$tmp/page.html")

port_rs=18480
port_ng=18481
bench_respond_lua "\"127.0.0.1:$port_rs\""
bench_rustyssr "http://127.0.0.1:$port_rs/page.html"
bench_nginx "  server {
    listen 127.0.0.1:$port_ng reuseport;
    root $tmp;
  }" "http://127.0.0.1:$port_ng/page.html"
curl -fsS "http://127.0.0.1:$port_rs/page.html" | cmp - "$tmp/page.html"
curl -fsS "http://127.0.0.1:$port_ng/page.html" | cmp - "$tmp/page.html"

run() { # name port → prints req/s
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$2/page.html" > "$tmp/$1.out"
  awk '/Requests\/sec/ {print $2}' "$tmp/$1.out"
}
p99() { awk '$1 == "99%" {print $2}' "$tmp/$1.out"; }

echo "page: $size bytes; wrk -t$threads -c$conns -d${secs}s --latency; $(nproc) cores; $(nginx -v 2>&1)"
echo
echo "| run | rustyssr req/s | p99 | nginx req/s | p99 | ratio |"
echo "|---|---|---|---|---|---|"
run rs $port_rs >/dev/null   # warm-up, both
run ng $port_ng >/dev/null
ratios=()
for i in $(seq 1 "$runs"); do
  a=$(run rs $port_rs); ap=$(p99 rs)
  b=$(run ng $port_ng); bp=$(p99 ng)
  r=$(python3 -c "print(round($a / $b, 3))")
  ratios+=("$r")
  echo "| $i | $a | $ap | $b | $bp | $r |"
done
echo
bench_ratios "${ratios[@]}"
