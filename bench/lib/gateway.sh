# bench/lib/gateway.sh — sourced by bench/hooks.sh and bench/proxy.sh: the
# set-up and clean-up bench/run does, then bench/lib/gateway.py WHAT.
#
# Installs what is missing (Debian: wrk, nginx-light, libnginx-mod-http-lua),
# takes $RUSTYSSR_BIN or build/release/rustyssr (built with CMake when it is
# missing), builds the demo bundle when it is missing, and stops every
# process group gateway.py started, even when it is killed or interrupted.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

gateway_run() {  # WHAT [ARGS...]
  local what=$1
  shift
  for a in "$@"; do
    case "$a" in
      -h|--help) exec python3 "$here/bench/lib/gateway.py" "$what" --help ;;
      --from-json*) exec python3 "$here/bench/lib/gateway.py" "$what" "$@" ;;   # only the report
    esac
  done
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  local missing=()
  command -v python3 >/dev/null || missing+=(python3)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || missing+=(nginx-light)
  [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || missing+=(libnginx-mod-http-lua)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq || die "apt-get update"
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]}"
  fi
  if [ -z "${RUSTYSSR_BIN:-}" ] && [ ! -x "$here/build/release/rustyssr" ]; then
    "$here/scripts/setup"
    cmake -S "$here" -B "$here/build/release" >/dev/null
    say "building rustyssr (cmake --build build/release)"
    cmake --build "$here/build/release" -j"$(nproc)" --target rustyssr >"$here/build/bench-build.log" 2>&1 \
      || { tail -30 "$here/build/bench-build.log" >&2; die "build (log: build/bench-build.log)"; }
  fi
  if [ "$what" = hooks ] && [ ! -f "$here/bench/app/dist/server.js" ]; then
    command -v npm >/dev/null || die "npm is needed to build the demo bundle (bench/run installs it)"
    say "building the demo app (bench/app: npm ci, npm run build)"
    (cd "$here/bench/app" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } \
       && npm run --silent build) || die "building bench/app"
  fi

  # gateway.py writes each server's process group id to $BENCH_TMP/pgids
  # before anything else; the trap stops any group still there at the end.
  BENCH_TMP=$(mktemp -d /tmp/rustyssr-gw.XXXXXX)
  export BENCH_TMP
  gw_keep=0
  for a in "$@"; do [ "$a" = --keep-tmp ] && gw_keep=1; done
  gw_py=""
  trap gateway_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  python3 "$here/bench/lib/gateway.py" "$what" "$@" &
  gw_py=$!
  wait "$gw_py"
}

gateway_cleanup() {
  local rc=$?
  if [ -n "$gw_py" ] && kill -0 "$gw_py" 2>/dev/null; then kill -TERM "$gw_py" 2>/dev/null || true; wait "$gw_py" 2>/dev/null || true; fi
  if [ -f "$BENCH_TMP/pgids" ]; then
    while read -r g; do
      [ -n "$g" ] && pgrep -g "$g" >/dev/null 2>&1 && { say "stopping leftover process group $g"; kill -TERM -- "-$g" 2>/dev/null || true; }
    done <"$BENCH_TMP/pgids"
    sleep 1
    while read -r g; do
      [ -n "$g" ] && pgrep -g "$g" >/dev/null 2>&1 && kill -KILL -- "-$g" 2>/dev/null || true
    done <"$BENCH_TMP/pgids"
  fi
  if [ "$gw_keep" = 1 ]; then say "configs and logs kept in $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
  exit "$rc"
}
