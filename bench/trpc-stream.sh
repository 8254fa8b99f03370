#!/usr/bin/env bash
# tRPC's stream link against its batch link on one dashboard batch (account + insights + maintenanceJobs),
# and the peer (../shared/peer/node-bff.mjs, no batching) answering the same reads as three parallel GETs,
# all against one fixture AgentOS started in this run with AgentOS-like latency: LATENCY ms (default 120)
# on every call, insights' pages of jobs included. Prints time to the first and to the last item.
# usage: bench/trpc-stream.sh [runs] [latency-ms]
source "$(dirname "$0")/lib.sh"
runs="${1:-30}"
latency="${2:-120}"
need_tool node nodejs
build_release

SECRET="bench-session-secret-of-at-least-32-bytes"
faults="$(mktemp)"
echo "{\"seed\": 1, \"rules\": [{\"route\": \"*\", \"latencyMs\": $latency, \"jitterMs\": 20}]}" > "$faults"
FIXTURE_RATE_LIMIT=0 "$BFF" fixtures --port 19010 --faults "$faults" >/dev/null 2>&1 & PIDS+=($!)
wait_port 19010
AGENTOS_BASE_URL=http://127.0.0.1:19010 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18091 \
  node "$PEER_DIR/node-bff.mjs" >/dev/null 2>&1 & PIDS+=($!)
# Reads go to the fixture every time (cache off), so both links wait on the same upstream latency.
AGENTOS_BASE_URL=http://127.0.0.1:19010 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18081 HOST=127.0.0.1 \
  ACCESS_LOG=false LOG_LEVEL=warning AGENTOS_RATE_LIMIT=100000 AGENTOS_CONTRACTOR_SHARE=100000 AGENTOS_BUDGET_WARMUP_MS=0 \
  CACHE_TTL_ACCOUNT_SECONDS=0 CACHE_TTL_JOBS_SECONDS=0 CACHE_TTL_STATEMENTS_SECONDS=0 CACHE_TTL_PENDING_SECONDS=0 \
  RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 DATA_DIR="$(mktemp -d)" "$BFF" >/dev/null 2>&1 & PIDS+=($!)
wait_port 18091; wait_port 18081
TOKEN=$(SESSION_SECRET="$SECRET" "$BFF" token --contractor C-1001 --agency demo --ttl 1h)
echo "upstream latency ${latency} ms (+0–20 jitter) per AgentOS call; ${runs} runs each"
python3 "$(dirname "$0")/trpc-stream.py" http://127.0.0.1:18081 http://127.0.0.1:18091 "$TOKEN" "$runs"
