#!/usr/bin/env bash
# AgentOS allows 50 requests per minute per key, and one key serves the whole agency. An agency of 10,
# then 50 contractors each opens the dashboard (account, insights, jobs with notes) every 30 s; the fixture
# AgentOS enforces the limit like the real one (429 Retry-After 60, then 403). ContractorBFF and the
# reference peer (../shared/peer/node-bff.mjs) run the same workload at the same time, each against its
# own fixture (each its own key's budget). Printed per size: pages answered, p50/p95 page latency, median
# and p95 age of the data served, upstream calls in the busiest minute, 429s and 403s caused.
# usage: bench/budget.sh [seconds-per-size] [sizes]     (the issue's run: bench/budget.sh 300 "10 50")
source "$(dirname "$0")/lib.sh"
seconds="${1:-300}"
sizes="${2:-10 50}"
need_tool node nodejs
build_release
SECRET="bench-session-secret-of-at-least-32-bytes"
work=$(mktemp -d)

counters() { curl -s "http://127.0.0.1:$1/__fixture/counters"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

printf '%-8s %-16s %7s %9s %7s %7s %8s %8s %10s %5s %5s\n' size server pages answered p50ms p95ms ageMed ageP95 calls/min 429s 403s
for size in $sizes; do
  python3 "$(dirname "$0")/make-agency.py" "$size" "$work/agency-$size.json"
  FIXTURE_DATA="$work/agency-$size.json" FIXTURE_RATE_LIMIT=50 HOST=127.0.0.1 "$BFF" fixtures --port 19100 >/dev/null 2>&1 & PIDS+=($!)
  FIXTURE_DATA="$work/agency-$size.json" FIXTURE_RATE_LIMIT=50 HOST=127.0.0.1 "$BFF" fixtures --port 19101 >/dev/null 2>&1 & PIDS+=($!)
  wait_port 19100; wait_port 19101
  AGENTOS_BASE_URL=http://127.0.0.1:19100 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18180 HOST=127.0.0.1 \
    ACCESS_LOG=false LOG_LEVEL=warning RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 \
    DATA_DIR="$work/data-$size" "$BFF" >/dev/null 2>&1 & ours=$!; PIDS+=($ours)
  AGENTOS_BASE_URL=http://127.0.0.1:19101 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18190 \
    node "$PEER_DIR/node-bff.mjs" >/dev/null 2>&1 & peer=$!; PIDS+=($peer)
  wait_port 18180; wait_port 18190
  python3 "$(dirname "$0")/dashboard.py" http://127.0.0.1:18180 "$SECRET" "$size" "$seconds" > "$work/ours-$size.json" &
  a=$!
  python3 "$(dirname "$0")/dashboard.py" http://127.0.0.1:18190 "$SECRET" "$size" "$seconds" > "$work/peer-$size.json" &
  b=$!
  wait $a $b
  for pair in "contractor-bff:ours:19100" "node-bff (peer):peer:19101"; do
    IFS=: read -r label name port <<<"$pair"
    result="$work/$name-$size.json"; c=$(counters "$port")
    printf '%-8s %-16s %7s %9s %7s %7s %8s %8s %10s %5s %5s\n' "$size" "$label" \
      "$(field '["pages"]' <"$result")" "$(field '["answered"]' <"$result")" "$(field '["p50ms"]' <"$result")" "$(field '["p95ms"]' <"$result")" \
      "$(field '["ageMedian"]' <"$result")" "$(field '["ageP95"]' <"$result")" \
      "$(echo "$c" | field '["limit"]["peakPerWindow"]')" "$(echo "$c" | field '["limit"]["limited429"]')" "$(echo "$c" | field '["limit"]["blocked403"]')"
  done
  for name in ours peer; do
    printf '%-8s %-16s answered by minute: %s\n' "$size" "$name" "$(field '["answeredByMinute"]' <"$work/$name-$size.json")"
  done
  printf '%-8s %-16s p95 age by route: %s\n' "$size" ours "$(field '["ageP95ByPath"]' <"$work/ours-$size.json")"
  kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=()
done
echo "ages in seconds (Age header: the oldest read a response used; the peer sends none: its data is live when it answers at all)"
echo "TTLs: account 600 s, jobs/notes 60 s, statements 300 s, pending 120 s (insights: jobs, pending and statement, so up to 300 s)"
