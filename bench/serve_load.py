#!/usr/bin/env python3
"""Bounded HTTP load on loopback for bench/serve.sh: serve_load.py URL CLIENTS REQUESTS [SECONDS]

CLIENTS threads, each with one keep-alive connection, GET URL until REQUESTS requests in all are
done or SECONDS (default 60) have passed, whichever comes first. Refuses any host but the loopback.
Prints requests/s and latency mean, p50, p99 and max in ms, and the count of non-200 answers.
"""
import http.client
import statistics
import sys
import threading
import time
import urllib.parse

url, clients, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
u = urllib.parse.urlsplit(url)
if u.hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("serve_load.py: loopback addresses only, not %r" % u.hostname)
target = u.path + ("?" + u.query if u.query else "")
lock = threading.Lock()
latencies, bad = [], [0]
left = [total]
deadline = time.monotonic() + limit


def client():
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    while True:
        with lock:
            if left[0] <= 0 or time.monotonic() > deadline:
                break
            left[0] -= 1
        t = time.perf_counter()
        conn.request("GET", target)
        r = conn.getresponse()
        r.read()
        dt = (time.perf_counter() - t) * 1000
        with lock:
            latencies.append(dt)
            if r.status != 200:
                bad[0] += 1
    conn.close()


start = time.perf_counter()
threads = [threading.Thread(target=client) for _ in range(clients)]
for th in threads:
    th.start()
for th in threads:
    th.join()
elapsed = time.perf_counter() - start
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print("requests %d in %.2f s: %.1f req/s; latency ms mean %.1f p50 %.1f p99 %.1f max %.1f; non-200 %d" % (
    len(latencies), elapsed, len(latencies) / elapsed, statistics.mean(latencies), p(0.5), p(0.99), latencies[-1], bad[0]))
