#!/usr/bin/env bash
# bench/h2.sh — HTTP/2 (h2c, prior knowledge) against nginx's http2 module:
# a fixed `respond` route returning a 14 KB page (bytes from memory, as a
# warm cached page is) vs nginx serving the same bytes from a file with
# `listen ... http2`. h2load -c CONNS -m STREAMS -n REQUESTS, alternated runs
# in one sitting; prints each run and the median ratio.
#
#   bench/h2.sh [RUNS=3] [REQUESTS=100000]     (CONNS=100 STREAMS=10 THREADS=2 in env)
#
# DEMO=1: the demo page instead (bench/app/dist/server.js, built when
# missing), rendered once by a `render = true` route and then a cache hit;
# nginx serves the bytes rustyssr rendered.
#
# TLS=1: both over TLS (the same ECDSA P-256 certificate, made here; ALPN h2;
# nginx with ssl_session_cache shared), h2load over https.
#
# Needs h2load and nginx (Debian: nghttp2-client, nginx-light); installs them
# if missing. RUSTYSSR_BIN: another binary (default build/release/rustyssr,
# built when missing).
# shellcheck disable=SC2086  # $curl_h2: one or two curl options, split on purpose
source "$(dirname "$0")/lib/common.sh"
runs=${1:-3}
nreq=${2:-100000}
streams=${STREAMS:-10}
conns=${CONNS:-100}
threads=${THREADS:-2}

bench_tools h2load:nghttp2-client nginx:nginx-light
bench_binary
[ "${DEMO:-0}" = 1 ] && bench_bundle
bench_tmp
bench_page "$tmp/page.html"
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
bench_respond_lua "{ \"127.0.0.1:$port_rs\", http2 = true$rs_tls }"
rs_path=/page.html
if [ "${DEMO:-0}" = 1 ]; then
  cat > "$tmp/rs.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = { "127.0.0.1:$port_rs", http2 = true$rs_tls }, admin = false, workers = "auto", pin = true,
             log = { level = "warn" }, render = { bundle = "$bundle", threads = 1 } }
ssr.route("GET", "/*", { render = true })
LUA
  rs_path=/
fi
bench_rustyssr "$scheme://127.0.0.1:$port_rs$rs_path" $curl_h2
if [ "${DEMO:-0}" = 1 ]; then   # rendered once: what nginx serves, and rustyssr's cache is warm
  curl -fsS $curl_h2 -o "$tmp/page.html" "$scheme://127.0.0.1:$port_rs/"
  size=$(stat -c %s "$tmp/page.html")
fi
bench_nginx "  server {
    listen 127.0.0.1:$port_ng reuseport$ng_tls http2;
    $ng_ssl
    http2_max_concurrent_streams 128;
    root $tmp;
  }" "$scheme://127.0.0.1:$port_ng/page.html" $curl_h2
curl -fsS $curl_h2 "$scheme://127.0.0.1:$port_rs$rs_path" | cmp - "$tmp/page.html"
curl -fsS $curl_h2 "$scheme://127.0.0.1:$port_ng/page.html" | cmp - "$tmp/page.html"

# µs of server CPU per request: bench_cpu rs (rustyssr), bench_cpu ng
# (nginx's master and workers).
run() { # name port path → prints req/s; the server's µs of CPU per request in $tmp/$1.cpu
  local c0; c0=$(bench_cpu "$1")
  # h2load asks for gzip by default: identity, so both send the same bytes
  h2load -t"$threads" -c"$conns" -m"$streams" -n"$nreq" -H "accept-encoding: identity" \
    "$scheme://127.0.0.1:$2$3" > "$tmp/$1.out"
  local c1; c1=$(bench_cpu "$1")
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
bench_ratios "${ratios[@]}"
