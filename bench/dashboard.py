#!/usr/bin/env python3
"""The dashboard workload of bench/budget.sh: N contractors, each opening the dashboard (account, insights,
jobs with notes, fetched at once) every INTERVAL seconds for SECONDS, starting at random offsets.
Prints one JSON object: pages opened and answered, p50/p95 page latency, median/p95 age of the data
served (the Age header; 0 when absent, i.e. fetched live), overall and per route, statuses seen.
usage: dashboard.py BASE_URL SECRET N SECONDS [INTERVAL]"""
import base64, hashlib, hmac, json, random, statistics, sys, threading, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

base, secret, n, seconds = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), float(sys.argv[4])
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
paths = ["/api/contractor/account", "/api/trpc/contractor.insights", "/api/contractor/jobs"]


def token(contractor):
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=")
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": contractor, "agency": "demo", "iat": now, "exp": now + 7200}).encode())
    signature = b64(hmac.new(secret, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + signature).decode()


def fetch(path, bearer):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + bearer})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status, int(response.headers.get("Age") or 0)
    except urllib.error.HTTPError as error:
        return error.code, 0
    except Exception:
        return 0, 0


lock = threading.Lock()
pages, latencies, ages, statuses = [], [], [], {}
ages_by_path = {path: [] for path in paths}
per_minute = {}
begun = time.time()
pool = ThreadPoolExecutor(max_workers=3 * n)


def contractor(index):
    bearer = token(f"C-{index:04d}")
    start = time.time()
    time.sleep(random.uniform(0, interval))
    while time.time() - start < seconds:
        opened = time.time()
        results = list(pool.map(lambda p: fetch(p, bearer), paths))
        took = time.time() - opened
        with lock:
            pages.append(all(status == 200 for status, _ in results))
            minute = int((opened - begun) // 60)
            per_minute.setdefault(minute, [0, 0])
            per_minute[minute][0] += 1
            per_minute[minute][1] += pages[-1]
            latencies.append(took)
            for path, (status, age) in zip(paths, results):
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    ages.append(age)
                    ages_by_path[path].append(age)
        time.sleep(max(0, interval - (time.time() - opened)))


threads = [threading.Thread(target=contractor, args=(i,)) for i in range(1, n + 1)]
for thread in threads: thread.start()
for thread in threads: thread.join()
pool.shutdown()
q = lambda values, p: sorted(values)[min(len(values) - 1, int(p * len(values)))] if values else 0
print(json.dumps({"pages": len(pages), "answered": sum(pages), "p50ms": round(q(latencies, 0.5) * 1000), "p95ms": round(q(latencies, 0.95) * 1000),
                  "ageMedian": statistics.median(ages) if ages else 0, "ageP95": q(ages, 0.95), "statuses": statuses,
                  "answeredByMinute": [f"{per_minute[m][1]}/{per_minute[m][0]}" for m in sorted(per_minute)],
                  "ageP95ByPath": {path.rsplit("/", 1)[-1]: q(values, 0.95) for path, values in ages_by_path.items()}}))
