#!/usr/bin/env bash
# bench/cache.sh — the cache-hit path against nginx, and memory per page.
#
#   bench/cache.sh [RUNS=3] [SECONDS=10]      (CONNS=100 THREADS=2 in env)
#
# 1. The demo page warm in rustyssr's cache vs nginx serving the same bytes
#    from a file (gzip off on both), wrk -t2 -c100 --latency, alternated.
# 2. The same with Accept-Encoding: br: rustyssr picks its stored br variant;
#    nginx serves a precompressed copy (page.html.br, Content-Encoding: br).
# 3. RSS with 10,000 distinct demo pages cached, against the sum of their
#    sizes and variants (rustyssr_cache_bytes).
# Needs wrk and nginx (installed when missing), the demo app and rustyssr
# (built when missing; RUSTYSSR_BIN: another binary).
source "$(dirname "$0")/lib/common.sh"
runs=${1:-3}
secs=${2:-10}
conns=${CONNS:-100}
threads=${THREADS:-2}
pages=${PAGES:-10000}

bench_tools wrk:wrk nginx:nginx-light
bench_binary
bench_bundle
bench_tmp
port_rs=18580; admin_rs=18582; port_ng=18581
url="/catalog/shoes?page=2"

cat > "$tmp/rs.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:$port_rs", admin = "127.0.0.1:$admin_rs", workers = "auto",
             log = { level = "warn" }, render = { bundle = "$bundle" },
             cache = { ttl = 3600, max_entries = 200000, max_bytes = "4GB" } }
ssr.route("GET", "/*", { render = true })
LUA
bench_rustyssr "http://127.0.0.1:$port_rs$url"
curl -fsS "http://127.0.0.1:$port_rs$url" -o "$tmp/page.html"
curl -fsS -H "Accept-Encoding: br" "http://127.0.0.1:$port_rs$url" -o "$tmp/page.html.br"
size=$(stat -c %s "$tmp/page.html"); brsize=$(stat -c %s "$tmp/page.html.br")

bench_nginx "  server {
    listen 127.0.0.1:$port_ng reuseport;
    root $tmp;
    location = /page.html.br { default_type text/html; add_header Content-Encoding br; add_header Vary Accept-Encoding; }
  }" "http://127.0.0.1:$port_ng/page.html"
curl -fsS "http://127.0.0.1:$port_ng/page.html" | cmp - "$tmp/page.html"

run() { # name url [header] → req/s
  local out="$tmp/$1.out"; shift
  if [ $# -gt 1 ]; then wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -H "$2" "$1" > "$out"
  else wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$1" > "$out"; fi
  awk '/Requests\/sec/ {print $2}' "$out"
}
pct() { awk -v p="$2" '$1 == p {print $2}' "$tmp/$1.out"; }

table() { # label rs_url ng_url [header]
  local label=$1 rsu=$2 ngu=$3 hdr=${4:-}
  echo "### $label"
  echo
  echo "| run | rustyssr req/s | p50 | p99 | nginx req/s | p50 | p99 | ratio |"
  echo "|---|---|---|---|---|---|---|---|"
  run rs "$rsu" ${hdr:+"$hdr"} >/dev/null; run ng "$ngu" >/dev/null   # warm-up
  local ratios=()
  for i in $(seq 1 "$runs"); do
    a=$(run rs "$rsu" ${hdr:+"$hdr"}); b=$(run ng "$ngu")
    r=$(python3 -c "print(round($a / $b, 3))"); ratios+=("$r")
    echo "| $i | $a | $(pct rs 50%) | $(pct rs 99%) | $b | $(pct ng 50%) | $(pct ng 99%) | $r |"
  done
  echo
  bench_ratios "${ratios[@]}"
  echo
}

echo "demo page $url: $size bytes identity, $brsize bytes br; wrk -t$threads -c$conns -d${secs}s; $(nproc) cores"
echo
table "Cache hit, identity" "http://127.0.0.1:$port_rs$url" "http://127.0.0.1:$port_ng/page.html"
table "Cache hit, Accept-Encoding: br" "http://127.0.0.1:$port_rs$url" "http://127.0.0.1:$port_ng/page.html.br" "Accept-Encoding: br"

echo "### Memory with $pages cached pages"
echo
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$(cat "$tmp/rs.pid")/status"; }
before=$(rss)
python3 - "$port_rs" "$pages" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
# keep-alive, pipelined in batches: fill the cache fast
s = socket.create_connection(("127.0.0.1", port))
batch = 50
for start in range(0, n, batch):
    reqs = b"".join(b"GET /catalog/mem-%d HTTP/1.1\r\nHost: bench\r\n\r\n" % i
                    for i in range(start, min(n, start + batch)))
    s.sendall(reqs)
    want = min(n, start + batch) - start
    got, buf = 0, b""
    while got < want:
        buf += s.recv(1 << 20)
        while True:
            h = buf.find(b"\r\n\r\n")
            if h < 0: break
            head = buf[:h].decode("latin-1")
            cl = int([l.split(":")[1] for l in head.split("\r\n") if l.lower().startswith("content-length")][0])
            if len(buf) < h + 4 + cl: break
            buf = buf[h + 4 + cl:]
            got += 1
PY
after=$(rss)
cbytes=$(curl -fsS "http://127.0.0.1:$admin_rs/metrics" | awk '$1 == "rustyssr_cache_bytes" {print $2}')
centries=$(curl -fsS "http://127.0.0.1:$admin_rs/metrics" | awk '$1 == "rustyssr_cache_entries" {print $2}')
python3 - "$before" "$after" "$cbytes" "$centries" <<'PY'
import sys
b, a, c, n = (float(x) for x in sys.argv[1:])
print("| pages cached | RSS before | RSS after | RSS growth | cache bytes (all variants) | growth / cache bytes |")
print("|---|---|---|---|---|---|")
print("| %d | %.1f MB | %.1f MB | %.1f MB | %.1f MB | %.2f |" % (n, b / 2**20, a / 2**20, (a - b) / 2**20, c / 2**20, (a - b) / c))
PY
