#!/usr/bin/env bash
# Upload throughput and memory: 1, 10 and 50 concurrent 5 MiB photo uploads, and 10 concurrent 10 MiB,
# to POST /api/contractor/jobs/:jobId/documents (ours: parse, type by content, hash, forward to AgentOS's
# attachdocument) against the peer nginx, proxying the same upload to the same fixture AgentOS with its
# request buffering (bodies past 64 KiB spooled to disk, as ours are). Both in this run, in turn; the
# fixture runs in its own process, so each server's resident memory is its own.
# The upstream rate limit is lifted for both (the 50/min budget is bench/budget's).
# usage: bench/uploads.sh [seconds-per-run] ["clients:MiB ..."]   (default "1:5 10:5 50:5 10:10")
source "$(dirname "$0")/lib.sh"
seconds="${1:-10}"
specs="${2:-1:5 10:5 50:5 10:10}"
need_tool nginx nginx
need_tool python3 python3
build_release

SECRET="bench-session-secret-of-at-least-32-bytes"
WORK=$(mktemp -d)
FIXTURE_RATE_LIMIT=0 "$BFF" fixtures --port 19000 >/dev/null 2>&1 & PIDS+=($!)
wait_port 19000
AGENTOS_BASE_URL=http://127.0.0.1:19000 AGENTOS_API_KEY=fixture-key SESSION_SECRET="$SECRET" PORT=18080 HOST=127.0.0.1 \
  ACCESS_LOG=false LOG_LEVEL=warning AGENTOS_RATE_LIMIT=100000 AGENTOS_CONTRACTOR_SHARE=100000 AGENTOS_MAX_IN_FLIGHT=512 \
  UPLOAD_MAX_FILE_BYTES=12582912 RATE_LIMIT_IP_PER_MINUTE=1000000 RATE_LIMIT_SESSION_PER_MINUTE=1000000 MIRROR=off \
  DATA_DIR="$WORK/data" UPLOAD_SPOOL_DIR="$WORK" "$BFF" >/dev/null 2>&1 & OURS=$!; PIDS+=($OURS)
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/body"
# nginx's workers run as an unprivileged user: they must reach the body spool.
chmod 755 "$WORK" "$WORK/nginx"; chmod 777 "$WORK/nginx/body"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  client_body_buffer_size 64k;
  client_max_body_size 32m;
  server {
    listen 127.0.0.1:18070;
    location /upload {
      proxy_request_buffering on;
      proxy_http_version 1.1;
      proxy_set_header api_key fixture-key;
      proxy_pass http://127.0.0.1:19000/v4/maintenance/demo/jobs/J-0002/attachdocument;
    }
  }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & PIDS+=($!)
wait_port 18080; wait_port 18070
sleep 0.5
NGINX_PIDS=$(pgrep -f "nginx: worker process" | tr '\n' ' ')
TOKEN=$(SESSION_SECRET="$SECRET" "$BFF" token --contractor C-1001 --agency demo --ttl 1h)

# nginx's memory is its workers' (the master holds none of the bodies): the bench samples the first
# worker; the second is alike.
NGINX_WORKER=$(echo "$NGINX_PIDS" | awk '{print $1}')
printf "%-14s %-8s %-8s %9s %9s %8s %8s %10s %10s  %s\n" contender clients size uploads "MB/s" "p50 s" "p99 s" "RSS base" "RSS peak" failures
run() {  # run NAME URL PID CLIENTS SIZE [HEADER]
  local out
  out=$(python3 "$ROOT/bench/upload-load.py" "$2" "$3" "$4" "$5" "$seconds" ${6:+"$6"})
  python3 - "$1" "$4" "$5" "$out" <<'PY'
import json, sys
name, clients, size, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
print(f"{name:<14} {clients:<8} {size // 1048576:>3} MiB  {line['uploads']:>9} {line['MBps']:>9} {line['p50s']:>8} {line['p99s']:>8}"
      f" {line['rssBaselineMiB']:>7} MiB {line['rssPeakMiB']:>6} MiB  {line['failures'] or '-'}")
PY
  echo "$out" > "$WORK/last.json"
}
for spec in $specs; do
  set -- "${spec%%:*}" $(( ${spec##*:} * 1048576 ))
  run nginx "http://127.0.0.1:18070/upload" "$NGINX_WORKER" "$1" "$2"; peer=$(python3 -c "import json;print(json.load(open('$WORK/last.json'))['MBps'])")
  run contractor-bff "http://127.0.0.1:18080/api/contractor/jobs/J-0002/documents" "$OURS" "$1" "$2" "Authorization:Bearer $TOKEN"
  ours=$(python3 -c "import json;print(json.load(open('$WORK/last.json'))['MBps'])")
  echo "  throughput ratio contractor-bff / nginx at $1 x $(( $2 / 1048576 )) MiB: $(ratio "$ours" "$peer")"
done
