#!/usr/bin/env python3
"""Manual load sanity check for genq-mockllm (not part of `make test`).

Opens N concurrent streaming connections against a running mock, probes
/healthz latency while they run, and reports the mock's CPU use (read from
/proc, so run it on the same machine).

  python3 tests/mock-llm/loadcheck.py --port 8089 --pid $(pidof genq-mockllm) \
      --conns 2000 --tokens 200
"""
import argparse
import asyncio
import json
import os
import time

BODY = {"model": "m", "stream": True,
        "messages": [{"role": "user", "content": "load"}]}


async def stream_one(port, i, max_tokens, stats):
    body = dict(BODY, max_tokens=max_tokens)
    body["messages"] = [{"role": "user",
                         "content": "load %d [mock:tokens=%d]" % (i, max_tokens)}]
    raw = json.dumps(body).encode()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        stats["connect_errors"] += 1
        stats["last_error"] = str(e)
        return
    w.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\n"
            b"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(raw), raw))
    await w.drain()
    tail = b""
    while True:
        d = await r.read(65536)
        if not d:
            break
        stats["bytes"] += len(d)
        tail = (tail + d)[-300:]
        if tail.endswith(b"\r\n0\r\n\r\n"):
            break
    if b"message_stop" in tail:
        stats["ok"] += 1
    else:
        stats["incomplete"] += 1
    w.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


async def probe(port, stop, lat):
    while not stop.is_set():
        t = time.perf_counter()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await r.read()
        w.close()
        lat.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(0.1)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--tokens", type=int, default=200)
    a = ap.parse_args()
    stats = {"ok": 0, "incomplete": 0, "connect_errors": 0, "bytes": 0}
    lat, stop = [], asyncio.Event()
    c0, t0 = cpu_seconds(a.pid), time.perf_counter()
    pr = asyncio.create_task(probe(a.port, stop, lat))
    await asyncio.gather(*(stream_one(a.port, i, a.tokens, stats)
                           for i in range(a.conns)))
    stop.set()
    await pr
    dt, dc = time.perf_counter() - t0, cpu_seconds(a.pid) - c0
    lat.sort()
    print(json.dumps(dict(stats, wall_s=round(dt, 2), mock_cpu_s=round(dc, 2),
                          mock_cpu_pct=round(100 * dc / dt, 1),
                          healthz_ms_p50=round(lat[len(lat) // 2], 2) if lat else None,
                          healthz_ms_max=round(lat[-1], 2) if lat else None)))


asyncio.run(main())
