# Shared helpers for the benchmark scripts: tools, builds, processes, wrk output.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER_DIR="$ROOT/../shared/peer"
PIDS=()
WRK_HEADERS=()  # e.g. (-H "Authorization: Bearer $TOKEN"), sent with every benchmark request
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

need_tool() {  # need_tool COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return
  echo "installing $2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
}

build_release() {
  (cd "$ROOT" && swift build -c release --product contractor-bff >&2)
  BFF="$ROOT/.build/release/contractor-bff"
}

wait_port() {  # wait_port PORT
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

# run_wrk URL CONNECTIONS SECONDS -> prints "reqs p50ms p99ms"
run_wrk() {
  local out
  out=$(wrk -t2 -c"$2" -d"$3"s --timeout 10s --latency ${WRK_HEADERS[@]+"${WRK_HEADERS[@]}"} "$1")
  local reqs p50 p99
  reqs=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -n "$errors" ] && echo "  wrk: $errors" >&2
  echo "$reqs $(to_ms "$p50") $(to_ms "$p99")"
}

to_ms() {  # wrk prints 1.23ms, 456.78us or 1.2s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else print v }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# compare_rounds ROUNDS SECONDS CONNECTIONS NAME=URL... : measures each contender once per round, in turn,
# so that the machine's noise falls on all of them alike, and prints the median of each column.
compare_rounds() {
  local rounds=$1 seconds=$2 connections=$3; shift 3
  local names=() urls=() results=()
  for pair in "$@"; do names+=("${pair%%=*}"); urls+=("${pair#*=}"); done
  for url in "${urls[@]}"; do wrk -t1 -c8 -d1s ${WRK_HEADERS[@]+"${WRK_HEADERS[@]}"} "$url" >/dev/null; done
  for round in $(seq 1 "$rounds"); do
    for i in "${!urls[@]}"; do
      results+=("$i $(run_wrk "${urls[$i]}" "$connections" "$seconds")")
    done
  done
  printf '%-40s %12s %9s %9s %7s\n' "median of $rounds rounds, $connections conns, ${seconds}s" "req/s" "p50 ms" "p99 ms" "ratio"
  local base=""
  for i in "${!names[@]}"; do
    local med
    med=$(printf '%s\n' "${results[@]}" | awk -v i="$i" '$1 == i {print $2, $3, $4}' | python3 -c '
import sys, statistics
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
print(" ".join("%.2f" % statistics.median(col) if idx == 0 else "%.3f" % statistics.median(col) for idx, col in enumerate(zip(*rows))))')
    read -r rps p50 p99 <<<"$med"
    [ -z "$base" ] && base=$rps
    printf '%-40s %12s %9s %9s %7s\n' "${names[$i]}" "$rps" "$p50" "$p99" "$(ratio "$rps" "$base")"
  done
}
