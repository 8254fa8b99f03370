#!/usr/bin/env bash
# The latency the gateway adds over a direct upstream call, at one connection: GET /api/contractor/account
# with the read cache and the mirror off, so every request makes its one AgentOS call
# (GET /v4/maintenance/demo/contractors/C-1001), against that same call made straight to the same
# fixture AgentOS, both measured in this run, in turn, round after round.
# usage: bench/latency.sh [seconds-per-run] [rounds]   (goal: added p50 <= 1 ms)
source "$(dirname "$0")/lib.sh"
seconds="${1:-5}"
rounds="${2:-5}"
need_tool wrk wrk
build_release

SECRET="bench-session-secret-of-at-least-32-bytes"
FIXTURE_RATE_LIMIT=0 "$BFF" fixtures --port 19010 >/dev/null 2>&1 & PIDS+=($!)
wait_port 19010
AGENTOS_BASE_URL=http://127.0.0.1:19010 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18095 HOST=127.0.0.1 \
  MIRROR=off CACHE_TTL_ACCOUNT_SECONDS=0 AGENTOS_RATE_LIMIT=100000 AGENTOS_CONTRACTOR_SHARE=100000 \
  RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 DATA_DIR="$(mktemp -d)" "$BFF" >/dev/null 2>&1 & PIDS+=($!)
wait_port 18095
TOKEN=$(SESSION_SECRET="$SECRET" "$BFF" token --contractor C-1001 --agency demo --ttl 1h)

direct=(http://127.0.0.1:19010/v4/maintenance/demo/contractors/C-1001 -H "api_key: fixture-key")
gateway=(http://127.0.0.1:18095/api/contractor/account -H "Authorization: Bearer $TOKEN")
# The gateway must really go upstream for each request (neither the cache nor the mirror answering):
# 20 account reads must be 20 contractor calls at the fixture.
contractor_calls() { curl -sf http://127.0.0.1:19010/__fixture/counters | python3 -c 'import json, sys; print(json.load(sys.stdin)["received"].get("contractor", 0))'; }
before=$(contractor_calls)
for _ in $(seq 1 20); do curl -sf -o /dev/null "${gateway[@]}"; done
after=$(contractor_calls)
if [ $((after - before)) -ne 20 ]; then
  echo "20 account reads made $((after - before)) upstream calls: the comparison would be meaningless" >&2; exit 1
fi

one() {  # one URL HEADER... -> "p50ms p99ms req/s"
  local out
  out=$(wrk -t1 -c1 -d"$seconds"s --latency "${@:2}" "$1")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "wrk: $(grep 'Non-2xx\|Socket errors' <<<"$out")" >&2; fi
  echo "$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") $(awk '/Requests\/sec/ {print $2}' <<<"$out")"
}
wrk -t1 -c1 -d1s "${direct[@]:1}" "${direct[0]}" >/dev/null
wrk -t1 -c1 -d1s "${gateway[@]:1}" "${gateway[0]}" >/dev/null
rows=()
for _ in $(seq 1 "$rounds"); do
  rows+=("direct $(one "${direct[@]}")")
  rows+=("gateway $(one "${gateway[@]}")")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import sys, statistics
runs = {}
for line in sys.stdin:
    name, p50, p99, rps = line.split()
    runs.setdefault(name, []).append((float(p50), float(p99), float(rps)))
med = {name: [statistics.median(col) for col in zip(*rows)] for name, rows in runs.items()}
print("median of %d rounds, 1 connection          p50 ms   p99 ms    req/s" % len(runs["direct"]))
print("%-40s %8.3f %8.3f %8.0f" % ("AgentOS fixture, called directly", *med["direct"]))
print("%-40s %8.3f %8.3f %8.0f" % ("contractor-bff /api/contractor/account", *med["gateway"]))
added = med["gateway"][0] - med["direct"][0]
print("added by the gateway at p50: %.3f ms (goal <= 1 ms), at p99: %.3f ms" % (added, med["gateway"][1] - med["direct"][1]))'
