#!/usr/bin/env python3
"""A dashboard's batch (account + insights + maintenanceJobs) fetched N times through tRPC's
httpBatchLink (one JSON array: nothing until the slowest call is done) and httpBatchStreamLink (JSON lines:
each call's lines as it finishes), and the same three reads from the peer as separate parallel requests
(it has no batching). Prints, per contender, the median and p95 time to the first settled call and to
the last, in ms, and the ratios of the stream link's times to the others'.
usage: trpc-stream.py OURS_BASE PEER_BASE TOKEN N"""
import http.client, json, statistics, sys, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor

ours, peer, token, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
batch_path = "/api/trpc/contractor.account,contractor.insights,contractor.maintenanceJobs?batch=1"


def connect(base):
    url = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def batch_link():
    start = time.perf_counter()
    conn = connect(ours)
    conn.request("GET", batch_path, headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    body = json.loads(response.read())
    done = time.perf_counter() - start
    assert len(body) == 3 and all("result" in item for item in body), body
    conn.close()
    return done, done


def stream_link():
    """Reads the JSON lines as they come: a call is settled when its data chunk (or its error) arrives."""
    start = time.perf_counter()
    conn = connect(ours)
    conn.request("GET", batch_path, headers={"Authorization": "Bearer " + token, "trpc-accept": "application/jsonl"})
    response = conn.getresponse()
    assert response.status == 200, response.status
    head = json.loads(response.readline())
    pending = {int(key) for key in head}
    waiting = {}  # chunk id -> call index whose data it will carry
    first = None
    while pending:
        line = response.readline()
        if not line:
            raise SystemExit("stream ended early")
        chunk_id, _, value = json.loads(line)
        settled = None
        if chunk_id in pending and "error" in value[0][0]:
            settled = chunk_id
        elif chunk_id in pending:
            waiting[value[1][2]] = ("result", chunk_id)
        elif chunk_id in waiting and waiting[chunk_id][0] == "result":
            waiting[value[1][2]] = ("data", waiting.pop(chunk_id)[1])
        elif chunk_id in waiting:
            settled = waiting.pop(chunk_id)[1]
        if settled is not None:
            pending.discard(settled)
            first = first if first is not None else time.perf_counter() - start
    last = time.perf_counter() - start
    conn.close()
    return first, last


def peer_parallel():
    paths = ["/api/contractor/account", "/api/trpc/contractor.insights", "/api/contractor/jobs"]
    start = time.perf_counter()

    def one(path):
        conn = connect(peer)
        conn.request("GET", path, headers={"Authorization": "Bearer " + token})
        conn.getresponse().read()
        conn.close()
        return time.perf_counter() - start

    with ThreadPoolExecutor(3) as pool:
        times = sorted(pool.map(one, paths))
    return times[0], times[-1]


def measure(run):
    run()  # warm
    results = [run() for _ in range(n)]
    firsts = sorted(r[0] * 1000 for r in results)
    lasts = sorted(r[1] * 1000 for r in results)
    p95 = lambda xs: xs[min(len(xs) - 1, int(len(xs) * 0.95))]
    return statistics.median(firsts), p95(firsts), statistics.median(lasts), p95(lasts)


rows = {}
for name, run in [("httpBatchLink", batch_link), ("httpBatchStreamLink", stream_link), ("peer, 3 parallel GETs", peer_parallel)]:
    rows[name] = measure(run)
print(f"{'contender':<24} {'first p50':>10} {'first p95':>10} {'last p50':>10} {'last p95':>10}   (ms, {n} runs)")
for name, (f50, f95, l50, l95) in rows.items():
    print(f"{name:<24} {f50:>10.1f} {f95:>10.1f} {l50:>10.1f} {l95:>10.1f}")
s, b, p = rows["httpBatchStreamLink"], rows["httpBatchLink"], rows["peer, 3 parallel GETs"]
print(f"time to first item, stream / batch link: {s[0] / b[0]:.2f}   stream / peer: {s[0] / p[0]:.2f}")
print(f"time to last item,  stream / batch link: {s[2] / b[2]:.2f}   stream / peer: {s[2] / p[2]:.2f}")
