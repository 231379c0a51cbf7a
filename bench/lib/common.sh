# bench/lib/common.sh — sourced by the benchmark shell scripts of bench/: the
# set-up they share, so that each script says only what it measures.
#
#   source "$(dirname "$0")/lib/common.sh"      (sets -euo pipefail, $here)
#   bench_tools wrk:wrk nginx:nginx-light       COMMAND:DEBIAN-PACKAGE ..., installed when missing
#   bench_binary                                $bin: $RUSTYSSR_BIN or build/release/rustyssr (built when missing)
#   bench_bundle                                $bundle: the demo app's bundle (built when missing)
#   bench_tmp                                   $tmp, and the trap: every process of $tmp/*.pid stopped, $tmp removed
#   bench_start NAME CMD [ARGS...]              CMD in the background: pid $tmp/NAME.pid, stderr $tmp/NAME.log
#   bench_wait URL [CURL ARGS...]               until URL answers 2xx (300 tries 0.1 s apart)
#   bench_rustyssr URL [CURL ARGS...]           $bin -c $tmp/rs.lua started (NAME rs), waited for on URL
#   bench_nginx [--no-affinity] HTTP URL [CURL ARGS...]
#                                               $tmp/nginx.conf: the skeleton below with HTTP (server blocks,
#                                               ssl_*) inside http { }; nginx started (NAME ng), waited for on URL
#   bench_cpu NAME                              CPU ticks (utime + stime) of $tmp/NAME.pid and its children
#                                               (nginx's master and workers); $hz ticks a second
#   bench_page FILE                             the 14 KB page of frontend.sh and h2.sh (the same bytes each time)
#   bench_respond_lua LISTEN                    $tmp/rs.lua: LISTEN (a Lua value) and a respond route of page.html
#   bench_ratios R...                           "ratio rustyssr/nginx: median (min, max)"
#   bench_render_one [BUILD]                    $tmp/render_one: bench/render_one.c against BUILD's librs_shim.a
#   bench_catalogue_urls                        urls=(...) the 64 catalogue URLs; node_args=(--url U ...)
#   bench_py NAME SCRIPT [ARGS...]              python3 SCRIPT ARGS with $BENCH_TMP (/tmp/rustyssr-NAME.*), and
#                                               the trap: every process group of $BENCH_TMP/pgids stopped
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034  # for the scripts that source this file
hz=$(getconf CLK_TCK)
export DEBIAN_FRONTEND=noninteractive   # apt-get here and in scripts/setup asks nothing
say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# COMMAND:PACKAGE ... (COMMAND an absolute path: that file); apt-get installs
# the packages of the missing ones, through sudo when not root.
bench_tools() {
  local t c missing=()
  for t in "$@"; do
    c=${t%%:*}
    case "$c" in
      /*) [ -e "$c" ] || missing+=("${t#*:}") ;;
      *) command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || missing+=("${t#*:}") ;;
    esac
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]}"
}

bench_binary() {
  bin=${RUSTYSSR_BIN:-$here/build/release/rustyssr}
  if [ -z "${RUSTYSSR_BIN:-}" ] && [ ! -x "$bin" ]; then
    "$here/scripts/setup"
    cmake -S "$here" -B "$here/build/release" >/dev/null
    say "building rustyssr (cmake --build build/release)"
    cmake --build "$here/build/release" -j"$(nproc)" --target rustyssr >"$here/build/bench-build.log" 2>&1 \
      || { tail -30 "$here/build/bench-build.log" >&2; die "build (log: build/bench-build.log)"; }
  fi
  [ -x "$bin" ] || die "no $bin"
}

bench_bundle() {
  bundle="$here/bench/app/dist/server.js"
  [ -f "$bundle" ] && return 0
  command -v npm >/dev/null || die "npm is needed to build the demo bundle (bench/run installs it)"
  say "building the demo app (bench/app: npm ci, npm run build)"
  (cd "$here/bench/app" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } \
     && npm run --silent build) >&2 || die "building bench/app"
}

bench_tmp() {
  tmp=$(mktemp -d)
  chmod 755 "$tmp"   # nginx workers run as another user
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM HUP
}

# The processes of $tmp/*.pid: SIGTERM, 5 s to go, then SIGKILL.
bench_cleanup() {
  local rc=$? pids p
  pids=$(cat "$tmp"/*.pid 2>/dev/null | sort -u) || true
  if [ -n "$pids" ]; then
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    # shellcheck disable=SC2086  # one pid a word
    for _ in $(seq 50); do bench_alive $pids || break; sleep 0.1; done
    for p in $pids; do
      if bench_alive "$p"; then say "killing $p"; kill -KILL "$p" 2>/dev/null || true; fi
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
bench_alive() {  # PID...: one of them still runs (a zombie does not count)
  local p s
  for p in "$@"; do
    s=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || continue
    [ -n "$s" ] && [ "$s" != Z ] && return 0
  done
  return 1
}

bench_start() {
  local name=$1
  shift
  "$@" 2>"$tmp/$name.log" &
  echo $! >"$tmp/$name.pid"
}

bench_wait() {
  local url=$1
  shift
  for _ in $(seq 300); do
    curl -fsS --max-time 5 -o /dev/null "$@" "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$tmp"/*.log >&2 || true
  die "no answer from $url"
}

bench_rustyssr() {
  bench_start rs "$bin" -c "$tmp/rs.lua"
  bench_wait "$@"
}

bench_nginx() {
  local affinity="worker_cpu_affinity auto;"
  if [ "$1" = --no-affinity ]; then affinity=""; shift; fi
  local body=$1
  shift
  cat >"$tmp/nginx.conf" <<NGX
worker_processes auto;
$affinity
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
$body
}
NGX
  bench_start ng "$(command -v nginx || echo /usr/sbin/nginx)" -c "$tmp/nginx.conf" -p "$tmp"
  bench_wait "$@"
}

bench_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bench_cpu() {
  local m t w
  m=$(cat "$tmp/$1.pid")
  t=$(bench_ticks "$m")
  for w in $(pgrep -P "$m"); do t=$((t + $(bench_ticks "$w"))); done
  echo "$t"
}

bench_page() {
  python3 - "$1" <<'PY'
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
}

bench_respond_lua() {
  cat >"$tmp/rs.lua" <<LUA
local ssr = require "rustyssr"
ssr.config { listen = $1, admin = false, workers = "auto", pin = true,
             log = { level = "warn" } }
local f = assert(io.open("$tmp/page.html", "rb")); local page = f:read("*a"); f:close()
ssr.route("GET", "/page.html", { respond = { status = 200,
  headers = { ["Content-Type"] = "text/html" }, body = page } })
LUA
}

bench_ratios() {
  python3 - "$@" <<'PY'
import sys, statistics
v = sorted(float(x) for x in sys.argv[1:])
print("ratio rustyssr/nginx: median %.3f (min %.3f, max %.3f)" % (statistics.median(v), v[0], v[-1]))
PY
}

bench_render_one() {
  local build=${1:-$here/build/release} libdir
  libdir=$(readlink -f "$build/deps/root/usr/lib/x86_64-linux-gnu" 2>/dev/null ||
           readlink -f "$here/build/deps/root/usr/lib/x86_64-linux-gnu")
  gcc -O2 -I"$here/shim" "$here/bench/render_one.c" -o "$tmp/render_one" \
    "$build/librs_shim.a" "$libdir/libnode.so.108" -Wl,-rpath,"$libdir" -lstdc++ -lpthread -lm
}

# The URLs render-bench.js generates with --urls 64, given to both engines.
bench_catalogue_urls() {
  local cats=(shoes electronics clothes home toys books beauty sport) i u
  urls=()
  node_args=()
  for i in $(seq 0 63); do
    if [ "$i" = 0 ]; then u="/catalog/shoes?page=2"; else u="/catalog/${cats[i % 8]}?page=$((1 + (i >> 3)))"; fi
    urls+=("$u")
    node_args+=(--url "$u")
  done
}

# bench/run, hooks.sh, proxy.sh and fleet.sh: SCRIPT (bench/lib/run.py,
# gateway.py, fleet.py) starts each server in a process group of its own and
# writes the group id to $BENCH_TMP/pgids before anything else; it stops them
# itself, and the trap stops SCRIPT and whatever group is left if it could
# not (killed, crashed): SIGTERM, 1 s, SIGKILL. $BENCH_TMP is removed at the
# end unless ARGS has --keep-tmp.
bench_py() {
  local name=$1 script=$2 a
  shift 2
  BENCH_TMP=$(mktemp -d "/tmp/rustyssr-$name.XXXXXX")
  export BENCH_TMP
  bench_keep=0
  for a in "$@"; do [ "$a" = --keep-tmp ] && bench_keep=1; done
  bench_pid=""
  trap bench_py_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  python3 "$script" "$@" &
  bench_pid=$!
  wait "$bench_pid"
}
bench_py_cleanup() {
  local rc=$? g
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  if [ -f "$BENCH_TMP/pgids" ]; then
    while read -r g; do
      if [ -n "$g" ] && pgrep -g "$g" >/dev/null 2>&1; then
        say "stopping leftover process group $g"
        kill -TERM -- "-$g" 2>/dev/null || true
      fi
    done <"$BENCH_TMP/pgids"
    sleep 1
    while read -r g; do
      if [ -n "$g" ] && pgrep -g "$g" >/dev/null 2>&1; then kill -KILL -- "-$g" 2>/dev/null || true; fi
    done <"$BENCH_TMP/pgids"
  fi
  if [ "$bench_keep" = 1 ]; then say "configs and logs kept in $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
  exit "$rc"
}
