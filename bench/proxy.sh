#!/usr/bin/env bash
# bench/proxy.sh — the proxy action against nginx proxy_pass: GET of a small
# JSON file from a backend (nginx) directly, through nginx proxy_pass
# (upstream keepalive 64) and through rustyssr's ssr.proxy (upstream
# keepalive 64); wrk -t2 -c100 for throughput, then one connection for the
# latency each hop adds. Warm-up, then alternated runs; prints a Markdown
# table and writes it to bench/results-proxy.md. About 3 minutes with the
# defaults. See bench/README.md.
#
#   bench/proxy.sh [--runs N] [--duration S] [--out FILE] [--keep-tmp]
#   bench/proxy.sh --from-json bench/results/last-proxy.json [--out FILE]   (the report again)
#   env: RUNS=5 DURATION=6 WARMUP=3 CONNS=100 THREADS=2 QUIET=0.15
#        LIGHT_CONNS=1 LIGHT_DURATION=5 BACKEND_WORKERS=auto
#        RUSTYSSR_BIN=build/release/rustyssr (built when missing)
source "$(dirname "$0")/lib/gateway.sh"
gateway_run proxy "$@"
