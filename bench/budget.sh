#!/usr/bin/env bash
# AgentOS allows 50 requests per minute per key, and one key serves the whole agency. An agency of 5 branches
# of 2,000 jobs each is served to 10, 50, 500, then 5,000 contractors, each opening the dashboard (account,
# insights, jobs with notes) every 30 s; the fixture AgentOS enforces the limit like the real one (429
# Retry-After 60, then 403). ContractorBFF (its agency mirror fed within the budget) and the reference peer
# (../shared/peer/node-bff.mjs, live contractor-scoped calls) run the same workload at the same time, each
# against its own fixture (each its own key's budget). Printed per size: pages answered (overall and by
# minute), p50/p95 page latency, p50/p95 age of the data served per route, the share of jobs shown with
# their notes loaded, upstream calls in the busiest minute, 429s and 403s caused, minutes until the mirror
# was warm, and how late the load generator started pages (to show it kept up).
# usage: bench/budget.sh [seconds-per-size] [sizes] [branches] [jobs-per-branch]
#        (the issue's run: bench/budget.sh 240 "10 50 500 5000" 5 2000)
source "$(dirname "$0")/lib.sh"
seconds="${1:-240}"
sizes="${2:-10 50 500 5000}"
branches="${3:-5}"
per_branch="${4:-2000}"
need_tool node nodejs
build_release
SECRET="bench-session-secret-of-at-least-32-bytes"
work=$(mktemp -d)

counters() { curl -s "http://127.0.0.1:$1/__fixture/counters"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); v=d$1; print(json.dumps(v) if isinstance(v,(dict,list)) else v)"; }

echo "agency: $branches branches x $per_branch jobs; dashboards every 30 s for ${seconds} s per size"
printf '%-6s %-16s %6s %8s %6s %6s %9s %9s %7s %9s %5s %5s %6s %6s\n' \
  size server pages answered p50ms p95ms jobsAgeP50 jobsAgeP95 notes% calls/min 429s 403s warmMin lagMs
for size in $sizes; do
  python3 "$(dirname "$0")/make-agency.py" "$size" "$work/agency-$size.json" "$branches" "$per_branch"
  FIXTURE_DATA="$work/agency-$size.json" FIXTURE_RATE_LIMIT=50 HOST=127.0.0.1 "$BFF" fixtures --port 19100 >/dev/null 2>&1 & PIDS+=($!)
  FIXTURE_DATA="$work/agency-$size.json" FIXTURE_RATE_LIMIT=50 HOST=127.0.0.1 "$BFF" fixtures --port 19101 >/dev/null 2>&1 & PIDS+=($!)
  wait_port 19100; wait_port 19101
  AGENTOS_BASE_URL=http://127.0.0.1:19100 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18180 HOST=127.0.0.1 \
    ACCESS_LOG=false LOG_LEVEL=warning RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 \
    MIRROR=on MIRROR_AGENCIES=demo DATA_DIR="$work/data-$size" "$BFF" >"$work/ours-$size.log" 2>&1 & ours=$!; PIDS+=($ours)
  AGENTOS_BASE_URL=http://127.0.0.1:19101 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18190 \
    node "$PEER_DIR/node-bff.mjs" >/dev/null 2>&1 & peer=$!; PIDS+=($peer)
  wait_port 18180; wait_port 18190
  python3 "$(dirname "$0")/dashboard.py" http://127.0.0.1:18180 "$SECRET" "$size" "$seconds" 30 http://127.0.0.1:18180/readyz > "$work/ours-$size.json" &
  a=$!
  python3 "$(dirname "$0")/dashboard.py" http://127.0.0.1:18190 "$SECRET" "$size" "$seconds" > "$work/peer-$size.json" &
  b=$!
  wait $a $b
  readyz=$(curl -s http://127.0.0.1:18180/readyz)
  for pair in "contractor-bff:ours:19100" "node-bff (peer):peer:19101"; do
    IFS=: read -r label name port <<<"$pair"
    result="$work/$name-$size.json"; c=$(counters "$port")
    warm=$(field '["warmAfterSeconds"]' <"$result")
    [ "$warm" != "None" ] && warm=$(python3 -c "print(round($warm/60, 1))") || warm="-"
    notes=$(field '["notesLoadedShare"]' <"$result")
    [ "$notes" != "None" ] && notes=$(python3 -c "print(round($notes*100))") || notes="-"
    printf '%-6s %-16s %6s %8s %6s %6s %9s %9s %7s %9s %5s %5s %6s %6s\n' "$size" "$label" \
      "$(field '["pages"]' <"$result")" "$(field '["answered"]' <"$result")" "$(field '["p50ms"]' <"$result")" "$(field '["p95ms"]' <"$result")" \
      "$(field '["ageP50ByPath"]["jobs"]' <"$result")" "$(field '["ageP95ByPath"]["jobs"]' <"$result")" "$notes" \
      "$(echo "$c" | field '["limit"]["peakPerWindow"]')" "$(echo "$c" | field '["limit"]["limited429"]')" "$(echo "$c" | field '["limit"]["blocked403"]')" \
      "$warm" "$(field '["clientLagP95ms"]' <"$result")"
  done
  for name in ours peer; do
    printf '%-6s %-16s answered by minute: %s\n' "$size" "$name" "$(field '["answeredByMinute"]' <"$work/$name-$size.json")"
    printf '%-6s %-16s age p50/p95 by route: %s / %s\n' "$size" "$name" "$(field '["ageP50ByPath"]' <"$work/$name-$size.json")" "$(field '["ageP95ByPath"]' <"$work/$name-$size.json")"
  done
  printf '%-6s %-16s mirror: %s\n' "$size" ours "$(echo "$readyz" | field '["mirror"]["demo"]')"
  kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=()
done
echo "ages in seconds (Age header: the oldest data a response used; the peer sends none: its data is live when it answers at all)"
echo "calls/min: the busiest rolling minute the fixture saw; warmMin: minutes from start until /readyz said the mirror was warm"
