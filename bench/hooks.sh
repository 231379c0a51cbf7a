#!/usr/bin/env bash
# bench/hooks.sh — what a Lua `key` hook costs on the cache-hit path: the
# demo page from (a) a render route without hooks, (b) the same route with a
# Lua key hook, (c) nginx + lua-nginx-module serving the same bytes from a
# lua_shared_dict under the same key computed in content_by_lua; one URL
# (hit) and 10,000 Zipf(0.99) URLs (hit-many). Warm-up, then alternated
# runs; prints a Markdown table and writes it to bench/results-hooks.md.
# About 4 minutes with the defaults. See bench/README.md.
#
#   bench/hooks.sh [--only hit|hit-many] [--runs N] [--duration S] [--out FILE] [--keep-tmp]
#   bench/hooks.sh --from-json bench/results/last-hooks.json [--out FILE]   (the report again)
#   env: RUNS=5 DURATION=6 WARMUP=3 CONNS=100 THREADS=2 QUIET=0.15
#        RUSTYSSR_BIN=build/release/rustyssr (built when missing)
source "$(dirname "$0")/lib/gateway.sh"
gateway_run hooks "$@"
