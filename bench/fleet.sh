#!/usr/bin/env bash
# bench/fleet.sh — the fleet's figures (cache.shared, issue 15): 3 gateways
# and one redis-server on loopback, Zipf(0.99) over 10,000 URLs, one wrk per
# gateway: renders per page version and hit ratio against 3 independent
# caches, failed requests while redis-server is SIGKILLed and restarted
# mid-run, purge reach time across instances (p50/p99), and an L3 hit against
# an L2 hit (req/s, RSS). About 2 minutes with the defaults. See
# bench/README.md, "Fleet".
#
#   bench/fleet.sh [--only renders,faults,purge,l3cost] [--duration S] [--ttl S] [--purges N] [--keep-tmp]
#   env: RUSTYSSR_BIN=build/release/rustyssr (built when missing)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'bench/fleet: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

for a in "$@"; do
  case "$a" in -h|--help) exec python3 "$here/bench/lib/fleet.py" --help ;; esac
done
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]}"
fi
if [ -z "${RUSTYSSR_BIN:-}" ] && [ ! -x "$here/build/release/rustyssr" ]; then
  "$here/scripts/setup"
  cmake -S "$here" -B "$here/build/release" >/dev/null
  say "building rustyssr (cmake --build build/release)"
  cmake --build "$here/build/release" -j2 --target rustyssr >/dev/null || die "build"
fi

# fleet.py writes each process group id to $BENCH_TMP/pgids before anything
# else; the trap stops any group still there at the end.
BENCH_TMP=$(mktemp -d /tmp/rustyssr-fleet.XXXXXX)
export BENCH_TMP
keep=0
for a in "$@"; do [ "$a" = --keep-tmp ] && keep=1; done
py=""
cleanup() {
  local rc=$?
  if [ -n "$py" ] && kill -0 "$py" 2>/dev/null; then kill -TERM "$py" 2>/dev/null || true; wait "$py" 2>/dev/null || true; fi
  if [ -f "$BENCH_TMP/pgids" ]; then
    while read -r g; do
      [ -n "$g" ] && pgrep -g "$g" >/dev/null 2>&1 && { say "stopping leftover process group $g"; kill -KILL -- "-$g" 2>/dev/null || true; }
    done <"$BENCH_TMP/pgids"
  fi
  if [ "$keep" = 1 ]; then say "configs and logs kept in $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
args=()
for a in "$@"; do [ "$a" = --keep-tmp ] || args+=("$a"); done
python3 "$here/bench/lib/fleet.py" "${args[@]}" &
py=$!
wait "$py"
