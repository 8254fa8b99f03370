#!/usr/bin/env python3
"""Upload load: CONCURRENCY clients, each posting the same multipart body (one SIZE-byte JPEG) again and
again for SECONDS, one connection per upload. Samples the server's resident memory (VmRSS of PID) all
along. Prints one JSON line: uploads, failures by status, MB/s of file bytes accepted, p50/p99 seconds,
peak and baseline RSS in MiB.

usage: upload-load.py URL PID CONCURRENCY SIZE SECONDS [HEADER:VALUE ...]
"""
import asyncio, json, os, sys, time, urllib.parse

url, pid, concurrency, size, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
extra = [h.split(":", 1) for h in sys.argv[6:]]
parsed = urllib.parse.urlsplit(url)
boundary = "----BenchBoundary7MA4YWxkTrZu0gW"

def jpeg(n):
    # A JPEG's markers around bytes with no CR (so no delimiter can hide in them).
    block = bytes((i * 37 + 11) % 256 if (i * 37 + 11) % 256 != 13 else 14 for i in range(65536))
    body = (block * (n // len(block) + 1))[: n - 6]
    return b"\xff\xd8\xff\xe0" + body + b"\xff\xd9"

file_bytes = jpeg(size)
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nbench\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n").encode() + file_bytes + f"\r\n--{boundary}--\r\n".encode()
head = (f"POST {parsed.path} HTTP/1.1\r\nHost: {parsed.hostname}\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{k.strip()}: {v.strip()}\r\n" for k, v in extra) + "\r\n").encode()

def rss_mib():
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0

async def one():
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
    writer.write(head)
    writer.write(body)
    await writer.drain()
    status_line = await reader.readline()
    data = await reader.read()
    writer.close()
    return int(status_line.split()[1]) if status_line else 0

async def main():
    baseline = rss_mib()
    peak = baseline
    done, failures, latencies = 0, {}, []
    stop_at = time.monotonic() + seconds

    async def client():
        nonlocal done
        while time.monotonic() < stop_at:
            started = time.monotonic()
            try:
                status = await one()
            except Exception as error:  # a reset counts as a failure, not a crash of the bench
                status = type(error).__name__
            latencies.append(time.monotonic() - started)
            if status in (200, 201):
                done += 1
            else:
                failures[str(status)] = failures.get(str(status), 0) + 1

    async def sampler():
        nonlocal peak
        while time.monotonic() < stop_at + 1:
            peak = max(peak, rss_mib())
            await asyncio.sleep(0.05)

    began = time.monotonic()
    await asyncio.gather(sampler(), *(client() for _ in range(concurrency)))
    took = time.monotonic() - began - 1
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0
    print(json.dumps({
        "uploads": done, "failures": failures, "MBps": round(done * size / 1e6 / max(took, 0.001), 1),
        "p50s": round(pick(0.5), 3), "p99s": round(pick(0.99), 3),
        "rssBaselineMiB": round(baseline, 1), "rssPeakMiB": round(peak, 1),
    }))

asyncio.run(main())
