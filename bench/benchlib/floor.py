"""The floor for publishing: N raw, unsigned PutObject requests carrying the tagging header, at a given
concurrency, each thread on one keep-alive connection — no SDK, no signing, no reads first. Run as its own
process so it never shares an interpreter (and its lock) with the emulator.

    python floor.py <host> <port> <bucket> <prefix> <count> <concurrency> <templates dir>

Prints one JSON line: the wall time of the PUT phase and how many PUTs answered 200."""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote


def main() -> None:
    host, port, bucket, prefix, count, concurrency, tdir = sys.argv[1:8]
    count, concurrency = int(count), int(concurrency)
    bodies = [(p.name, p.read_bytes()) for p in sorted(Path(tdir).glob("*.yaml"))]
    if count == len(bodies):
        items = bodies
    else:
        items = [(f"{i:04d}-{bodies[i % len(bodies)][0]}", bodies[i % len(bodies)][1]) for i in range(count)]
    tagging = f"{quote('sagemaker:studio-visibility', safe='')}=true&{quote('sagemaker-projects-bootstrap:published-by', safe='')}=floor00000"
    lock, next_item, ok = threading.Lock(), [0], [0]

    def worker():
        conn = HTTPConnection(host, int(port), timeout=60)
        conn.connect()
        # headers and body go out in two writes: without this, Nagle + delayed ACK stall each request ~40 ms
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            with lock:
                i = next_item[0]
                next_item[0] += 1
            if i >= len(items):
                break
            name, body = items[i]
            conn.request("PUT", f"/{bucket}/{quote(prefix + name)}", body=body, headers={
                "x-amz-tagging": tagging, "Content-Type": "application/x-yaml", "Content-Length": str(len(body))})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                with lock:
                    ok[0] += 1
        conn.close()

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, len(items)))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"count": count, "concurrency": concurrency, "publish_ms": (time.perf_counter() - t) * 1e3,
                      "written": ok[0]}))


if __name__ == "__main__":
    main()
