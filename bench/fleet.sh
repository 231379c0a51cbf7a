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
source "$(dirname "$0")/lib/common.sh"
say() { printf 'bench/fleet: %s\n' "$*" >&2; }

for a in "$@"; do
  case "$a" in -h|--help) exec python3 "$here/bench/lib/fleet.py" --help ;; esac
done
bench_tools wrk:wrk redis-server:redis-server
bench_binary
bench_py fleet "$here/bench/lib/fleet.py" "$@"
