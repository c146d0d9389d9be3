"""An open-loop HTTP load generator, run as its own process (``python -m bench.openloop``).

Request ``i`` is due at ``start + i / rate`` whatever happened to the earlier ones; its latency
counts from that moment, so a slow server cannot hide its queueing by slowing the generator
down (coordinated omission). Plain asyncio over keep-alive HTTP/1.1 connections, no client
library: in its own interpreter it keeps a few hundred requests a second on time with a
millisecond to spare, which the run checks by measuring ``/healthz`` the same way (the figure
the server's endpoints are read against: the generator's own floor).

Input (one JSON object on stdin): ``{"host", "port", "rate", "seconds", "paths": [...],
"headers": {...}}``; output (stdout): one JSON object of latencies per path, in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

MAX_CONNECTIONS = 64


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 2)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            await self.reader.readexactly(length)
        return status


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], int(spec["port"])
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    paths: list[str] = spec["paths"]
    extra = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
    requests = {
        p: f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for p in paths
    }
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    opened = 0
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[str] = []

    async def connection() -> Connection:
        nonlocal opened
        if idle.empty() and opened < MAX_CONNECTIONS:
            opened += 1
            return Connection(*await asyncio.open_connection(host, port))
        return await idle.get()

    async def one(path: str, due: float) -> None:
        conn = await connection()
        try:
            status = await conn.get(requests[path])
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            errors.append(type(exc).__name__)
            conn.writer.close()
            conn = Connection(*await asyncio.open_connection(host, port))
            status = 0
        latencies[path].append((time.perf_counter() - due) * 1000)
        if status != 200:
            errors.append(str(status))
        idle.put_nowait(conn)

    total = int(rate * seconds)
    tasks = []
    start = time.perf_counter() + 0.1
    late = 0.0
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
    sent = time.perf_counter() - start
    await asyncio.gather(*tasks)
    every = [v for values in latencies.values() for v in values]
    return {
        "requests": total,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "offered_rate": rate,
        "achieved_rate": round(total / max(sent, 1e-9), 1),
        # How late the generator itself sent its latest request (its own lag, in ms).
        "generator_max_lag_ms": round(late * 1000, 2),
        "connections": opened,
        "p50_ms": percentile(every, 0.50),
        "p99_ms": percentile(every, 0.99),
        "max_ms": round(max(every), 2) if every else None,
        "p99_ms_by_path": {p: percentile(v, 0.99) for p, v in latencies.items()},
        "p50_ms_by_path": {p: percentile(v, 0.50) for p, v in latencies.items()},
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    result = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
