#!/usr/bin/env bash
# bench/traffic.sh — the example site under browser-like traffic (issue 13):
# every request carries analytics cookies (_ga, _gid) and Accept-Encoding:
# gzip, br, over a mix of URLs (home, catalogue pages, product pages).
#
#   before: routes/site.lua without its `cookies = {}` lines (a route that
#           names no cookies: any cookie bypasses the cache, the old default)
#   after:  routes/site.lua as shipped
#
# Prints, for each: req/s (wrk), the cache's hit ratio and the renders it
# took (rustyssr_renders_total). Then, on "after", one deploy under load: a
# new bundle (the same code, other bytes) is installed and SIGHUP sent while
# wrk runs, and it prints the renders that deploy caused, the pages marked
# stale and the non-2xx answers. Needs wrk and the demo app (installed and
# built when missing). About a minute.
#
#   bench/traffic.sh            env: DURATION=6 CONNS=32 THREADS=2 PAGES=40
#                                    RUSTYSSR_BIN=build/release/rustyssr
source "$(dirname "$0")/lib/common.sh"
DURATION=${DURATION:-6}; CONNS=${CONNS:-32}; THREADS=${THREADS:-2}; PAGES=${PAGES:-40}
bench_tools wrk:wrk
bench_binary
bench_bundle
bench_tmp
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port); A=$(port); B=$(port)
mkdir -p "$tmp/bench/app/dist" "$tmp/routes"
cp -r "$here/bench/app/dist/client" "$tmp/bench/app/dist/"
cp "$here/bench/app/dist/server.js" "$tmp/bench/app/dist/server.js"
sed -e "s/127.0.0.1:8080/127.0.0.1:$P/; s/127.0.0.1:9901/127.0.0.1:$A/; s/127.0.0.1:9000/127.0.0.1:$B/g" \
    -e 's/pin = true,/pin = false,/' "$here/rustyssr.lua.example" > "$tmp/rustyssr.lua"
cp "$here/routes/backend.lua" "$tmp/routes/"
# The URL mix: the home page, catalogue pages (page and sort), product pages.
cat > "$tmp/mix.lua" <<LUA
local paths = { "/" }
for i = 1, $PAGES do
  paths[#paths + 1] = (i % 2 == 0) and ("/product/" .. i) or ("/catalog/shoes?page=" .. (i % 5 + 1) .. "&sort=p" .. (i % 3))
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1], {
    ["Cookie"] = "_ga=GA1.2.1234567890.1733400000; _gid=GA1.2.987654321.1733400000",
    ["Accept-Encoding"] = "gzip, br" })
end
LUA
metric() { curl -s "http://127.0.0.1:$A/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
renders() { curl -s "http://127.0.0.1:$A/metrics" | awk '/^rustyssr_renders_total/ { s += $2 } END { print s + 0 }'; }
start() {
  "$bin" -c "$tmp/rustyssr.lua" > "$tmp/log" 2>&1 & pid=$!
  echo "$pid" > "$tmp/rs.pid"
  for _ in $(seq 200); do grep -q "ready: serving" "$tmp/log" && return; sleep 0.05; done
  echo "did not start:"; cat "$tmp/log"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; rm -f "$tmp/rs.pid"; }
run() {   # $1 = label
  start
  local out; out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$tmp/mix.lua" "http://127.0.0.1:$P/")
  printf "| %s | %s | %s | %s |\n" "$1" "$(echo "$out" | awk '/Requests\/sec/ { print $2 }')" \
    "$(metric rustyssr_cache_hit_ratio)" "$(renders)"
}
echo "| site.lua | req/s | hit ratio | renders |"
echo "|---|---|---|---|"
sed -e '/^  cookies = {},$/d' -e 's/ cookies = {},//' "$here/routes/site.lua" > "$tmp/routes/site.lua"
run "before (no cookies = {...}: any cookie bypasses)"; stop
cp "$here/routes/site.lua" "$tmp/routes/site.lua"
run "after (cookies = {})"
# One deploy under load, on the running "after" server (pages warm).
r0=$(renders); s0=$(metric rustyssr_cache_softened_total)
e0=$(curl -s "http://127.0.0.1:$A/metrics" | awk '/^rustyssr_requests_total\{class="5xx"\}/ { print $2 }')
cached=$(metric rustyssr_cache_entries)
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$tmp/mix.lua" "http://127.0.0.1:$P/" > "$tmp/wrk2" &
wpid=$!
sleep 1
printf '\n// deploy %s\n' "$(date +%s%N)" >> "$tmp/bench/app/dist/server.js"
kill -HUP "$pid"
wait $wpid
r1=$(renders); s1=$(metric rustyssr_cache_softened_total)
e1=$(curl -s "http://127.0.0.1:$A/metrics" | awk '/^rustyssr_requests_total\{class="5xx"\}/ { print $2 }')
echo
echo "deploy under load: $cached pages cached; renders after the SIGHUP: $r1 (the new pool's count);" \
     "pages marked stale: $((s1 - s0)); 5xx: $(( ${e1:-0} - ${e0:-0} )); req/s $(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk2")"
grep -E "new bundle|reloaded" "$tmp/log" | sed 's/^/  log: /'
stop
