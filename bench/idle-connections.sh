#!/usr/bin/env bash
# Resident memory of the server holding 10,000 idle keep-alive connections (each has made one request).
# usage: bench/idle-connections.sh [connections]   (goal: <= 60 MB at 10,000)
source "$(dirname "$0")/lib.sh"
count="${1:-10000}"
build_release
ulimit -n 20000
DATA_DIR="$(mktemp -d)" PORT=18082 HOST=127.0.0.1 ACCESS_LOG=false KEEPALIVE_TIMEOUT_MS=600000 MAX_CONNECTIONS_PER_ADDRESS=1000000 "$BFF" >/dev/null 2>&1 & server=$!; PIDS+=($server)
wait_port 18082
rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
threads() { awk '/Threads/ {print $2}' "/proc/$server/status"; }
before=$(rss)
python3 - "$count" "$server" <<'PY'
import resource, socket, sys, time
count, server = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
sockets = []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", 18082))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    sockets.append(s)
answered = 0
for s in sockets:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b'"ok"}'):
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    answered += data.startswith(b"HTTP/1.1 200")
print(f"{answered} of {count} connections answered and kept open")
with open(f"/proc/{server}/status") as f:
    status = dict(line.split(":", 1) for line in f)
print(f"server RSS with {count} idle connections: {int(status['VmRSS'].split()[0]) / 1024:.1f} MB, threads: {status['Threads'].strip()}")
time.sleep(0.5)
PY
echo "server RSS before connections: $(awk -v k="$before" 'BEGIN {printf "%.1f", k / 1024}') MB; threads now: $(threads)"
