#!/usr/bin/env bash
# bench/h2.sh — HTTP/2 (h2c, prior knowledge) against nginx's http2 module:
# a fixed `respond` route returning a 14 KB page (bytes from memory, as a
# warm cached page is) vs nginx serving the same bytes from a file with
# `listen ... http2`. h2load -c CONNS -m STREAMS -n REQUESTS, alternated runs
# in one sitting; prints each run and the median ratio.
#
#   bench/h2.sh [RUNS=3] [REQUESTS=100000]     (CONNS=100 STREAMS=10 THREADS=2 in env)
#
# DEMO=1: the demo page instead (bench/app/dist/server.js, built by
# scripts/test or bench/render.sh), rendered once by a `render = true` route
# and then a cache hit; nginx serves the bytes rustyssr rendered.
#
# TLS=1: both over TLS (the same ECDSA P-256 certificate, made here; ALPN h2;
# nginx with ssl_session_cache shared), h2load over https.
#
# Needs h2load and nginx (Debian: nghttp2-client, nginx-light).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
nreq=${2:-100000}
streams=${STREAMS:-10}
conns=${CONNS:-100}
threads=${THREADS:-2}

command -v h2load >/dev/null || apt-get install -y -qq nghttp2-client >/dev/null
command -v nginx >/dev/null || apt-get install -y -qq nginx-light >/dev/null
bin="$here/build/release/rustyssr"
if [ ! -x "$bin" ]; then
  "$here/scripts/setup"
  cmake -S "$here" -B "$here/build/release" >/dev/null
  cmake --build "$here/build/release" -j"$(nproc)" --target rustyssr
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"   # nginx workers run as another user
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; sleep 0.5; rm -rf "$tmp"' EXIT
python3 - "$tmp/page.html" <<'PY'
import sys, random
r = random.Random(42)
words = "каталог товар цена скидка доставка рейтинг отзыв корзина catalog price rating".split()
out = ['<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>bench</title></head><body><main>']
while sum(len(s.encode()) for s in out) < 14 * 1024 - 200:
    out.append('<div class="card"><h3>%s</h3><p>%s</p><b>%d ₽</b></div>\n' % (
        " ".join(r.choice(words) for _ in range(3)), " ".join(r.choice(words) for _ in range(8)),
        r.randint(100, 99999)))
out.append("</main></body></html>\n")
open(sys.argv[1], "w").write("".join(out))
PY
size=$(stat -c %s "$tmp/page.html")

port_rs=18480
port_ng=18481
scheme=http; curl_h2=--http2-prior-knowledge; rs_tls=""; ng_tls=""; ng_ssl=""
if [ "${TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
  scheme=https; curl_h2="--http2 -k"
  rs_tls=", tls = { cert = \"$tmp/cert.pem\", key = \"$tmp/key.pem\" }"
  ng_tls=" ssl"
  ng_ssl="ssl_certificate $tmp/cert.pem; ssl_certificate_key $tmp/key.pem; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m;"
fi
cat > "$tmp/rs.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = { "127.0.0.1:$port_rs", http2 = true$rs_tls }, admin = false, workers = "auto", pin = true,
             log = { level = "warn" } }
local f = assert(io.open("$tmp/page.html", "rb")); local page = f:read("*a"); f:close()
ssr.route("GET", "/page.html", { respond = { status = 200,
  headers = { ["Content-Type"] = "text/html" }, body = page } })
LUA
rs_path=/page.html
if [ "${DEMO:-0}" = 1 ]; then
  bundle="$here/bench/app/dist/server.js"
  [ -f "$bundle" ] || { echo "no $bundle: build the demo app first (scripts/test or bench/render.sh)" >&2; exit 1; }
  cat > "$tmp/rs.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = { "127.0.0.1:$port_rs", http2 = true$rs_tls }, admin = false, workers = "auto", pin = true,
             log = { level = "warn" }, render = { bundle = "$bundle", threads = 1 } }
ssr.route("GET", "/*", { render = true })
LUA
  rs_path=/
fi
cat > "$tmp/nginx.conf" <<NGX
worker_processes auto;
worker_cpu_affinity auto;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 75s;
  open_file_cache max=1000 inactive=60s;
  gzip off; etag on;
  types { text/html html; }
  server {
    listen 127.0.0.1:$port_ng reuseport$ng_tls http2;
    $ng_ssl
    http2_max_concurrent_streams 128;
    root $tmp;
  }
}
NGX
"$bin" -c "$tmp/rs.lua" 2>"$tmp/rs.log" &
echo $! > "$tmp/rs.pid"
sleep 1
if [ "${DEMO:-0}" = 1 ]; then   # rendered once: what nginx serves, and rustyssr's cache is warm
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -fsS $curl_h2 -o "$tmp/page.html" "$scheme://127.0.0.1:$port_rs/" && break
    sleep 1
  done
  size=$(stat -c %s "$tmp/page.html")
fi
nginx -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/ng.log" &
echo $! > "$tmp/ng.pid"
sleep 1
for _ in $(seq 1 50); do   # both ready (a loaded machine starts them slowly)
  curl -fsS $curl_h2 -o /dev/null "$scheme://127.0.0.1:$port_rs$rs_path" 2>/dev/null &&
    curl -fsS $curl_h2 -o /dev/null "$scheme://127.0.0.1:$port_ng/page.html" 2>/dev/null && break
  sleep 0.2
done
curl -fsS $curl_h2 "$scheme://127.0.0.1:$port_rs$rs_path" | cmp - "$tmp/page.html"
curl -fsS $curl_h2 "$scheme://127.0.0.1:$port_ng/page.html" | cmp - "$tmp/page.html"

# CPU ticks (utime + stime) of rustyssr, or of nginx's master and workers.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_of() {
  local m; m=$(cat "$tmp/$1.pid"); local t; t=$(ticks "$m")
  if [ "$1" = ng ]; then for w in $(pgrep -P "$m"); do t=$((t + $(ticks "$w"))); done; fi
  echo "$t"
}
hz=$(getconf CLK_TCK)

run() { # name port path → prints req/s; the server's µs of CPU per request in $tmp/$1.cpu
  local c0; c0=$(cpu_of "$1")
  # h2load asks for gzip by default: identity, so both send the same bytes
  h2load -t"$threads" -c"$conns" -m"$streams" -n"$nreq" -H "accept-encoding: identity" \
    "$scheme://127.0.0.1:$2$3" > "$tmp/$1.out"
  local c1; c1=$(cpu_of "$1")
  grep -q "$nreq 2xx" "$tmp/$1.out" || { echo "$1: not all 2xx" >&2; cat "$tmp/$1.out" "$tmp/nginx-error.log" >&2; exit 1; }
  awk -v d="$((c1 - c0))" -v hz="$hz" -v n="$nreq" 'BEGIN { printf "%.1f\n", d * 1e6 / hz / n }' > "$tmp/$1.cpu"
  awk '/^traffic:/ {print "traffic", $0 > "/dev/stderr"} /^finished in/ {print $4}' "$tmp/$1.out"
}
p99() { awk '/^time for request:/ {print $5}' "$tmp/$1.out"; }   # h2load: max

echo "$scheme; page: $size bytes; h2load -t$threads -c$conns -m$streams -n$nreq; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(nginx -v 2>&1)"
echo
echo "| run | rustyssr req/s | µs CPU/req | max | nginx req/s | µs CPU/req | max | ratio |"
echo "|---|---|---|---|---|---|---|---|"
run rs $port_rs $rs_path >/dev/null   # warm-up, both
run ng $port_ng /page.html >/dev/null
ratios=()
for i in $(seq 1 "$runs"); do
  a=$(run rs $port_rs $rs_path); ap=$(p99 rs); ac=$(cat "$tmp/rs.cpu")
  b=$(run ng $port_ng /page.html); bp=$(p99 ng); bc=$(cat "$tmp/ng.cpu")
  r=$(python3 -c "print(round($a / $b, 3))")
  ratios+=("$r")
  echo "| $i | $a | $ac | $ap | $b | $bc | $bp | $r |"
done
echo
python3 - "${ratios[@]}" <<'PY'
import sys, statistics
v = sorted(float(x) for x in sys.argv[1:])
print("ratio rustyssr/nginx: median %.3f (min %.3f, max %.3f)" % (statistics.median(v), v[0], v[-1]))
PY
