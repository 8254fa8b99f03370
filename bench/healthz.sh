#!/usr/bin/env bash
# GET /healthz at 64 connections: ContractorBFF against Node's raw http server (../shared/peer/node-hello.mjs),
# both started in this run on this machine. Prints req/s, p50, p99 and the ratios.
# usage: bench/healthz.sh [seconds-per-run] [rounds]   (goal: ratio >= 1.2, p99 <= 5 ms)
source "$(dirname "$0")/lib.sh"
seconds="${1:-5}"
rounds="${2:-5}"
need_tool wrk wrk
need_tool node nodejs
build_release

PORT=18091 node "$PEER_DIR/node-hello.mjs" & PIDS+=($!)
DATA_DIR="$(mktemp -d)" PORT=18080 HOST=127.0.0.1 "$BFF" >/dev/null 2>&1 & PIDS+=($!)
DATA_DIR="$(mktemp -d)" PORT=18081 HOST=127.0.0.1 ACCESS_LOG=false "$BFF" >/dev/null 2>&1 & PIDS+=($!)
wait_port 18091; wait_port 18080; wait_port 18081

compare_rounds "$rounds" "$seconds" 64 \
  "node http (peer)=http://127.0.0.1:18091/healthz" \
  "contractor-bff, access log to /dev/null=http://127.0.0.1:18080/healthz" \
  "contractor-bff, access log off=http://127.0.0.1:18081/healthz"
