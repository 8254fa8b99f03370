#!/usr/bin/env bash
# The portal's two heaviest reads at 64 connections, ContractorBFF against the reference peer
# (../shared/peer/node-bff.mjs), both calling the same fixture AgentOS started in this run:
#   GET /api/contractor/jobs            (ours: 1 jobs call + one notes call per job without embedded notes,
#                                        as seed 002 asks; the peer fetches no notes at all)
#   GET /api/trpc/contractor.insights   (ours: every page of jobs + pending + statement, settled)
# The upstream rate limit is lifted for both (the 50/min budget is issue #6's benchmark, bench/budget).
# usage: bench/portal.sh [seconds-per-run] [rounds]   (goal: ratio >= 2, p99 no worse than the peer's)
source "$(dirname "$0")/lib.sh"
seconds="${1:-5}"
rounds="${2:-3}"
need_tool wrk wrk
need_tool node nodejs
build_release

SECRET="bench-session-secret-of-at-least-32-bytes"
FIXTURE_RATE_LIMIT=0 "$BFF" fixtures --port 19000 >/dev/null 2>&1 & PIDS+=($!)
wait_port 19000
AGENTOS_BASE_URL=http://127.0.0.1:19000 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18090 \
  node "$PEER_DIR/node-bff.mjs" & PIDS+=($!)
AGENTOS_BASE_URL=http://127.0.0.1:19000 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18080 HOST=127.0.0.1 \
  ACCESS_LOG=false LOG_LEVEL=warning AGENTOS_RATE_LIMIT=100000 AGENTOS_CONTRACTOR_SHARE=100000 AGENTOS_MAX_IN_FLIGHT=512 \
  RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 MIRROR_AGENCIES=demo DATA_DIR="$(mktemp -d)" "$BFF" >/dev/null 2>&1 & PIDS+=($!)
wait_port 18090; wait_port 18080
# Job lists are answered from the agency mirror once its first import is done.
for _ in $(seq 1 100); do
  curl -s http://127.0.0.1:18080/readyz | grep -q '"warm":true' && break
  sleep 0.1
done

TOKEN=$(SESSION_SECRET="$SECRET" "$BFF" token --contractor C-1001 --agency demo --ttl 1h)
WRK_HEADERS=(-H "Authorization: Bearer $TOKEN")

echo "GET /api/contractor/jobs (50 jobs; ours also loads their notes)"
compare_rounds "$rounds" "$seconds" 64 \
  "node-bff (peer)=http://127.0.0.1:18090/api/contractor/jobs" \
  "contractor-bff=http://127.0.0.1:18080/api/contractor/jobs"
echo
echo "GET /api/trpc/contractor.insights"
compare_rounds "$rounds" "$seconds" 64 \
  "node-bff (peer)=http://127.0.0.1:18090/api/trpc/contractor.insights" \
  "contractor-bff=http://127.0.0.1:18080/api/trpc/contractor.insights"
echo
echo "GET /api/contractor/account"
compare_rounds "$rounds" "$seconds" 64 \
  "node-bff (peer)=http://127.0.0.1:18090/api/contractor/account" \
  "contractor-bff=http://127.0.0.1:18080/api/contractor/account"
