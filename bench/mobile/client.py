"""A lean HTTP/1.1 keep-alive load client (asyncio streams, no HTTP library): N clients send
requests back to back for a fixed time, then finish what is in flight. Every response is kept
(status and body) so a run can be checked request by request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    seconds: float = 0.0
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return len(self.statuses) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


#: Builds the i-th request of client c: raw request bytes (method, path, headers, body).
Build = Callable[[int, int], bytes]


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def _client(port: int, c: int, build: Build, stop_at: float, out: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            writer.write(build(c, i))
            status, body = await _read(reader)
            out.latencies_ms.append((time.perf_counter() - started) * 1000)
            out.statuses.append(status)
            out.bodies.append(body)
            i += 1
    finally:
        writer.close()


async def run(port: int, clients: int, seconds: float, build: Build) -> Result:
    out = Result()
    started = time.monotonic()
    await asyncio.gather(*(_client(port, c, build, started + seconds, out)
                           for c in range(clients)))  # fmt: skip
    out.seconds = time.monotonic() - started
    return out
