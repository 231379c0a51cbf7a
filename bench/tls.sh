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
# printed first: the machine may be shared.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
runs=${2:-1}
conns=${CONNS:-50}
threads=${THREADS:-2}
bin="$here/build/release/rustyssr"
bundle="$here/bench/app/dist/server.js"
[ -x "$bin" ] || { echo "build first: cmake --build build/release" >&2; exit 1; }
[ -f "$bundle" ] || { echo "build the demo app first: (cd bench/app && npm ci && npm run build)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed" >&2; exit 1; }
command -v h2load >/dev/null || { echo "h2load is needed (Debian's nghttp2-client)" >&2; exit 1; }
full=${FULL:-3000}
ngx=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; sleep 0.5; rm -rf "$tmp"' EXIT
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
"$bin" -c "$tmp/rs.lua" 2>"$tmp/rs.log" &
echo $! > "$tmp/rs.pid"
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$p_plain$url" 2>/dev/null && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$p_plain$url" -o "$tmp/page.html"
curl -fsSk "https://127.0.0.1:$p_tls$url" -o "$tmp/page-tls.html"
cmp "$tmp/page.html" "$tmp/page-tls.html"

cat > "$tmp/nginx.conf" <<NGX
worker_processes auto;
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
  ssl_certificate $tmp/cert.pem;
  ssl_certificate_key $tmp/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 1h;
  server {
    listen 127.0.0.1:$n_plain reuseport;
    listen 127.0.0.1:$n_tls ssl reuseport;
    root $tmp;
    location / { try_files /page.html =404; }
  }
}
NGX
"$ngx" -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/ng.log" &
echo $! > "$tmp/ngm.pid"
sleep 1
curl -fsSk "https://127.0.0.1:$n_tls$url" | cmp - "$tmp/page.html"

# CPU ticks (utime + stime) of a process and its threads, or of nginx's
# master and workers.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_of() {
  if [ "$1" = rs ]; then ticks "$(cat "$tmp/rs.pid")"; return; fi
  local m; m=$(cat "$tmp/ngm.pid"); local t; t=$(ticks "$m")
  for w in $(pgrep -P "$m"); do t=$((t + $(ticks "$w"))); done
  echo "$t"
}
hz=$(getconf CLK_TCK)

# one: who url [wrk args...] -> "req/s µs-cpu/req"
one() {
  local who=$1 u=$2; shift 2
  local c0; c0=$(cpu_of "$who")
  wrk -t"$threads" -c"$conns" -d"${secs}s" "$@" "$u" > "$tmp/wrk.out" 2>&1
  local c1; c1=$(cpu_of "$who")
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
  local c0; c0=$(cpu_of "$who")
  h2load --h1 -t"$threads" -n "$full" -c "$full" "$u" > "$tmp/h2load.out" 2>&1
  local c1; c1=$(cpu_of "$who")
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
