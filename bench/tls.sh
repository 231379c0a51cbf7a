#!/usr/bin/env bash
# bench/tls.sh — TLS on the listeners against nginx, on the warm demo page.
#
#   bench/tls.sh [SECONDS=5] [RUNS=1]         (CONNS=50 THREADS=2 in env)
#
# Same certificate (ECDSA P-256, made here), same page: rustyssr serves it
# from its cache (render = true, warm), nginx 1.22 the same bytes from a
# file (ssl_session_cache shared, sendfile off for TLS anyway, gzip off).
#   1. HTTP/1.1 keep-alive: cleartext and TLS (wrk -tT -cC): req/s and µs of
#      server CPU per request (the process's utime+stime over the run, from
#      /proc, divided by the requests wrk counted);
#   2. a connection per request, resumed: wrk with "Connection: close"
#      (wrk keeps its TLS session from one connection to the next, as a
#      browser does: each handshake resumes a ticket);
#   3. full handshakes: h2load --h1 -n N -c N (N clients at once, one
#      request each, no session: every handshake full), handshakes/s and
#      µs of server CPU per handshake; and openssl s_time -new (one client,
#      sequential);
# each rustyssr then nginx, alternated RUNS times. The load average is
# printed first: the machine may be shared. Installs wrk, h2load and nginx
# when missing, builds rustyssr and the demo app when missing (RUSTYSSR_BIN:
# another binary).
source "$(dirname "$0")/lib/common.sh"
secs=${1:-5}
runs=${2:-1}
conns=${CONNS:-50}
threads=${THREADS:-2}
full=${FULL:-3000}
bench_tools wrk:wrk h2load:nghttp2-client nginx:nginx-light
bench_binary
bench_bundle
bench_tmp
p_plain=18680; p_tls=18681; admin=18682; n_plain=18683; n_tls=18684
url="/catalog/shoes?page=2"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null

cat > "$tmp/rs.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = { "127.0.0.1:$p_tls", tls = { cert = "$tmp/cert.pem", key = "$tmp/key.pem" } },
             servers = { plain = "127.0.0.1:$p_plain" },
             admin = "127.0.0.1:$admin", workers = "auto", log = { level = "warn" },
             render = { bundle = "$bundle" }, cache = { ttl = 3600 } }
ssr.route("GET", "/*", { render = true })
ssr.route("GET", "/*", { server = "plain", render = true })
LUA
bench_rustyssr "http://127.0.0.1:$p_plain$url"
curl -fsS "http://127.0.0.1:$p_plain$url" -o "$tmp/page.html"
curl -fsSk "https://127.0.0.1:$p_tls$url" -o "$tmp/page-tls.html"
cmp "$tmp/page.html" "$tmp/page-tls.html"

bench_nginx --no-affinity "  ssl_certificate $tmp/cert.pem;
  ssl_certificate_key $tmp/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 1h;
  server {
    listen 127.0.0.1:$n_plain reuseport;
    listen 127.0.0.1:$n_tls ssl reuseport;
    root $tmp;
    location / { try_files /page.html =404; }
  }" "https://127.0.0.1:$n_tls$url" -k
curl -fsSk "https://127.0.0.1:$n_tls$url" | cmp - "$tmp/page.html"

# The server's CPU ticks: bench_cpu rs (the process and its threads), bench_cpu
# ng (nginx's master and workers).

# one: who url [wrk args...] -> "req/s µs-cpu/req"
one() {
  local who=$1 u=$2; shift 2
  local c0; c0=$(bench_cpu "$who")
  wrk -t"$threads" -c"$conns" -d"${secs}s" "$@" "$u" > "$tmp/wrk.out" 2>&1
  local c1; c1=$(bench_cpu "$who")
  local reqs; reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
  local errs; errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$tmp/wrk.out")
  awk -v r="$rps" -v n="$reqs" -v d="$((c1 - c0))" -v hz="$hz" -v e="$errs" \
    'BEGIN { printf "%10.0f req/s  %7.1f us CPU/req  %s\n", r, n ? d * 1e6 / hz / n : 0, e }'
}

# full: who url -> "handshakes/s µs-cpu/handshake": $full clients at once,
# one request each, no session reuse (h2load keeps none across clients).
full() {
  local who=$1 u=$2
  local c0; c0=$(bench_cpu "$who")
  h2load --h1 -t"$threads" -n "$full" -c "$full" "$u" > "$tmp/h2load.out" 2>&1
  local c1; c1=$(bench_cpu "$who")
  local secs; secs=$(awk '/finished in/ {sub("s,", "", $3); print $3}' "$tmp/h2load.out")
  local ok; ok=$(awk '/^requests:/ {print $8}' "$tmp/h2load.out")
  awk -v s="$secs" -v n="$ok" -v d="$((c1 - c0))" -v hz="$hz" -v f="$full" \
    'BEGIN { printf "%10.0f hs/s   %7.1f us CPU/hs   %s\n", s ? n / s : 0, n ? d * 1e6 / hz / n : 0,
             n == f ? "" : "(" f - n " failed)" }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; wrk -t$threads -c$conns -d${secs}s; page $(stat -c %s "$tmp/page.html") bytes"
for r in $(seq "$runs"); do
  echo "-- run $r"
  printf "rustyssr cleartext keep-alive  "; one rs "http://127.0.0.1:$p_plain$url"
  printf "nginx    cleartext keep-alive  "; one ng "http://127.0.0.1:$n_plain$url"
  printf "rustyssr TLS keep-alive        "; one rs "https://127.0.0.1:$p_tls$url"
  printf "nginx    TLS keep-alive        "; one ng "https://127.0.0.1:$n_tls$url"
  printf "rustyssr TLS close, resumed    "; one rs "https://127.0.0.1:$p_tls$url" -H "Connection: close"
  printf "nginx    TLS close, resumed    "; one ng "https://127.0.0.1:$n_tls$url" -H "Connection: close"
  printf "rustyssr TLS full handshakes   "; full rs "https://127.0.0.1:$p_tls$url"
  printf "nginx    TLS full handshakes   "; full ng "https://127.0.0.1:$n_tls$url"
done
st() { openssl s_time -connect "127.0.0.1:$1" -new -time "$secs" -www "$url" 2>/dev/null |
       awk '/real seconds/ {printf "%.0f handshakes/s (s_time -new, 1 client)\n", $1 / $4}' | head -1; }
printf "rustyssr s_time: "; st "$p_tls"
printf "nginx    s_time: "; st "$n_tls"
m=$(curl -fsS "http://127.0.0.1:$admin/metrics")
echo "rustyssr metrics:"; echo "$m" | grep -E '^rustyssr_tls_(handshakes|resumed)' | grep -v ' 0$' || true
