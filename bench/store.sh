#!/usr/bin/env bash
# The shared store's cost: the jobs view, a keyed note write and a keyed invoice on PostgreSQL (DATABASE_URL) against the
# embedded files, side by side in the same run, and keyed writes through one PostgreSQL replica against
# two sharing the database (wrk splits its connections between them). All talk to one fixture AgentOS.
# The PostgreSQL cluster is a throwaway one (initdb in a temporary directory, on a Unix socket).
# usage: bench/store.sh [seconds-per-run] [rounds]
source "$(dirname "$0")/lib.sh"
seconds="${1:-5}"
rounds="${2:-3}"
need_tool wrk wrk
build_release
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/initdb" ] || need_tool /usr/lib/postgresql/15/bin/initdb postgresql
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

PGDIR=$(mktemp -d /tmp/pgbench-XXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
as_pg "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -o "-p 15432 -k $PGDIR -c listen_addresses='' -c max_connections=200" start >/dev/null
stop_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap 'cleanup; stop_pg' EXIT
DATABASE_URL="host=$PGDIR port=15432 user=postgres dbname=postgres"
DATABASE_URL="$DATABASE_URL" "$BFF" migrate >/dev/null

SECRET="bench-session-secret-of-at-least-32-bytes"
FIXTURE_RATE_LIMIT=0 "$BFF" fixtures --port 19000 >/dev/null 2>&1 & PIDS+=($!)
wait_port 19000
common=(AGENTOS_BASE_URL=http://127.0.0.1:19000 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" HOST=127.0.0.1
  ACCESS_LOG=false LOG_LEVEL=warning AGENTOS_RATE_LIMIT=100000 AGENTOS_CONTRACTOR_SHARE=100000 AGENTOS_MAX_IN_FLIGHT=512
  RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 MIRROR_AGENCIES=demo)
env "${common[@]}" PORT=18080 DATA_DIR="$(mktemp -d)" "$BFF" >/dev/null 2>&1 & PIDS+=($!)
env "${common[@]}" PORT=18081 DATA_DIR="$(mktemp -d)" DATABASE_URL="$DATABASE_URL" DATABASE_POOL_SIZE=32 "$BFF" >/dev/null 2>&1 & PIDS+=($!)
env "${common[@]}" PORT=18082 DATA_DIR="$(mktemp -d)" DATABASE_URL="$DATABASE_URL" DATABASE_POOL_SIZE=32 "$BFF" >/dev/null 2>&1 & PIDS+=($!)
wait_port 18080; wait_port 18081; wait_port 18082
for port in 18080 18081 18082; do
  for _ in $(seq 1 100); do curl -s http://127.0.0.1:$port/readyz | grep -q '"warm":true' && break; sleep 0.1; done
done

TOKEN=$(SESSION_SECRET="$SECRET" "$BFF" token --contractor C-1001 --agency demo --ttl 1h)
WRK_HEADERS=(-H "Authorization: Bearer $TOKEN")
echo "GET /api/contractor/jobs (from the mirror; with PostgreSQL the request limits are reported in batches, no round trip per request)"
compare_rounds "$rounds" "$seconds" 64 \
  "embedded=http://127.0.0.1:18080/api/contractor/jobs" \
  "postgresql=http://127.0.0.1:18081/api/contractor/jobs"
echo
WRK_HEADERS=(-H "Authorization: Bearer $TOKEN" -s "$ROOT/bench/keyed-notes.lua")
echo "POST /api/contractor/jobs/J-0002/notes, every request a new Idempotency-Key (claim, budget slot, audit, outcome)"
compare_rounds "$rounds" "$seconds" 16 \
  "embedded=http://127.0.0.1:18080/api/contractor/jobs/J-0002/notes" \
  "postgresql=http://127.0.0.1:18081/api/contractor/jobs/J-0002/notes"
echo
WRK_HEADERS=(-H "Authorization: Bearer $TOKEN" -s "$ROOT/bench/keyed-invoices.lua")
echo "POST /api/contractor/invoices, every request a new Idempotency-Key and invoice"
compare_rounds "$rounds" "$seconds" 16 \
  "embedded=http://127.0.0.1:18080/api/contractor/invoices" \
  "postgresql=http://127.0.0.1:18081/api/contractor/invoices"
echo
WRK_HEADERS=(-H "Authorization: Bearer $TOKEN" -s "$ROOT/bench/keyed-notes.lua")
echo "the same note writes: one PostgreSQL replica, then two at once (8 connections each, summed)"
one=$(run_wrk http://127.0.0.1:18081/api/contractor/jobs/J-0002/notes 16 "$seconds")
tmp_a=$(mktemp); tmp_b=$(mktemp)
run_wrk http://127.0.0.1:18081/api/contractor/jobs/J-0002/notes 8 "$seconds" >"$tmp_a" & first=$!
run_wrk http://127.0.0.1:18082/api/contractor/jobs/J-0002/notes 8 "$seconds" >"$tmp_b"
wait "$first"
read -r a_rps a_p50 a_p99 <"$tmp_a"; read -r b_rps b_p50 b_p99 <"$tmp_b"
read -r one_rps one_p50 one_p99 <<<"$one"
two_rps=$(awk -v a="$a_rps" -v b="$b_rps" 'BEGIN { printf "%.2f", a + b }')
printf '%-40s %12s %9s %9s %7s\n' "one replica (16 conns)" "$one_rps" "$one_p50" "$one_p99" "1.00"
printf '%-40s %12s %9s %9s %7s\n' "two replicas (8 + 8 conns)" "$two_rps" "$a_p50/$b_p50" "$a_p99/$b_p99" "$(ratio "$two_rps" "$one_rps")"
