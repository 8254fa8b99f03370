#!/usr/bin/env python3
"""The dashboard workload of bench/budget.sh: N contractors, each opening the dashboard (account, insights,
jobs with notes, fetched at once) every INTERVAL seconds for SECONDS, starting at random offsets. One
asyncio client over pooled keep-alive connections, so 5,000 contractors (500 requests a second) are
driven on time; it reports how late it started pages, to show it kept up.
Prints one JSON object: pages opened and answered (overall and by minute), p50/p95 page latency, median and
p95 age of the data served (the Age header; 0 when absent, i.e. fetched live) overall and per route, the
share of jobs shown with their notes loaded, statuses seen, failures by minute, route and status, and (with READY_URL) when the server first
said its mirror was warm.
usage: dashboard.py BASE_URL SECRET N SECONDS [INTERVAL] [READY_URL]"""
import asyncio, base64, hashlib, hmac, json, random, statistics, sys, time
from urllib.parse import urlsplit

base, secret, n, seconds = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), float(sys.argv[4])
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
ready_url = sys.argv[6] if len(sys.argv) > 6 else ""
paths = ["/api/contractor/account", "/api/trpc/contractor.insights", "/api/contractor/jobs"]
host, port = urlsplit(base).hostname, urlsplit(base).port
MAX_CONNECTIONS = 200


def token(contractor):
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=")
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": contractor, "agency": "demo", "iat": now, "exp": now + 7200}).encode())
    signature = b64(hmac.new(secret, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + signature).decode()


class Pool:
    def __init__(self):
        self.idle, self.slots = [], asyncio.Semaphore(MAX_CONNECTIONS)

    async def get(self, path, bearer):
        async with self.slots:
            # A pooled connection the server has since closed (its keep-alive timeout) fails before any
            # answer: tried once more on a new one, as HTTP clients do for a GET.
            if self.idle:
                try:
                    return await self.exchange(self.idle.pop(), path, bearer)
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass
            return await self.exchange(await asyncio.open_connection(host, port), path, bearer)

    async def exchange(self, connection, path, bearer):
        reader, writer = connection
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await reader.readuntil(b"\r\n")
                        break
                    body += await reader.readexactly(size)
                    await reader.readexactly(2)
            else:
                body = await reader.read()
            if headers.get("connection", "").lower() == "close":
                writer.close()
            else:
                self.idle.append(connection)
            return status, headers, body
        except Exception:
            writer.close()
            raise


async def fetch(pool, path, bearer):
    try:
        status, headers, body = await asyncio.wait_for(pool.get(path, bearer), 30)
        return status, int(headers.get("age") or 0), body
    except Exception:
        return 0, 0, b""


async def main():
    pool = Pool()
    begun = time.time()
    pages, latencies, ages, statuses, lags = [], [], [], {}, []
    ages_by_path = {path: [] for path in paths}
    per_minute, notes, failures = {}, [0, 0], {}
    warm_after = [None]

    async def contractor(index):
        bearer = token(f"C-{index:04d}")
        due = begun + random.uniform(0, interval)
        while due - begun < seconds:
            await asyncio.sleep(max(0, due - time.time()))
            opened = time.time()
            lags.append(opened - due)
            results = await asyncio.gather(*(fetch(pool, path, bearer) for path in paths))
            took = time.time() - opened
            answered = all(status == 200 for status, _, _ in results)
            pages.append(answered)
            minute = int((opened - begun) // 60)
            per_minute.setdefault(minute, [0, 0])
            per_minute[minute][0] += 1
            per_minute[minute][1] += answered
            latencies.append(took)
            for path, (status, age, body) in zip(paths, results):
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200:
                    failures.setdefault(f"{minute}:{path.rsplit('/', 1)[-1]}:{status}", 0)
                    failures[f"{minute}:{path.rsplit('/', 1)[-1]}:{status}"] += 1
                if status == 200:
                    ages.append(age)
                    ages_by_path[path].append(age)
                if path.endswith("/jobs") and status == 200:
                    try:
                        shown = json.loads(body)
                        notes[0] += sum(1 for job in shown if job.get("notesLoaded") is True)
                        notes[1] += len(shown)
                    except Exception:
                        pass
            due += interval

    async def watch_ready():
        if not ready_url:
            return
        parts = urlsplit(ready_url)
        while time.time() - begun < seconds:
            try:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                text = (await reader.read()).decode("utf-8", "replace")
                writer.close()
                if '"warm":true' in text:
                    warm_after[0] = round(time.time() - begun, 1)
                    return
            except Exception:
                pass
            await asyncio.sleep(1)

    await asyncio.gather(watch_ready(), *(contractor(i) for i in range(1, n + 1)))
    q = lambda values, p: sorted(values)[min(len(values) - 1, int(p * len(values)))] if values else 0
    print(json.dumps({
        "pages": len(pages), "answered": sum(pages), "p50ms": round(q(latencies, 0.5) * 1000), "p95ms": round(q(latencies, 0.95) * 1000),
        "ageMedian": statistics.median(ages) if ages else 0, "ageP95": q(ages, 0.95), "statuses": statuses,
        "answeredByMinute": [f"{per_minute[m][1]}/{per_minute[m][0]}" for m in sorted(per_minute)],
        "ageP50ByPath": {path.rsplit("/", 1)[-1]: q(values, 0.5) for path, values in ages_by_path.items()},
        "ageP95ByPath": {path.rsplit("/", 1)[-1]: q(values, 0.95) for path, values in ages_by_path.items()},
        "notesLoadedShare": round(notes[0] / notes[1], 3) if notes[1] else None,
        "clientLagP95ms": round(q(lags, 0.95) * 1000), "warmAfterSeconds": warm_after[0],
        "failures": failures}))


asyncio.run(main())
