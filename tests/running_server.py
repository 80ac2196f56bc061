"""A real ``onemap serve`` on a free 127.0.0.1 port against the session database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ROOT

#: A test server's connections: the suite runs in one worker per core, each with its servers,
#: beside whatever else uses the PostgreSQL server (100 connections by default); production
#: sizes (16 + 16 + 4) for two servers at once came close to it. A test may ask for more.
SMALL_POOLS = {"ONEMAP_DATABASE_POOL_MAX_SIZE": "8", "ONEMAP_OGC_POOL_SIZE": "6",
               "ONEMAP_OGC_SYNC_POOL_SIZE": "2"}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    base: str
    process: subprocess.Popen[bytes]  # `onemap serve` (with --workers: uvicorn's supervisor)


@contextmanager
def running_server(database_url: str, *, log_file: Path | None = None, **env: str) -> Iterator[str]:
    """Yield the base URL while the server runs; stop it afterwards. The server shares the
    test keys (.data/test), so the ``tokens`` fixture's tokens are valid there. With
    ``log_file`` the server's log (its stderr) is written there, for a test that reads it as a
    developer would (the development sender's one-time codes)."""
    with serving(database_url, log_file=log_file, **env) as served:
        yield served.base


@contextmanager
def serving(
    database_url: str,
    *,
    log_file: Path | None = None,
    workers: int = 1,
    ready_s: float = 30.0,
    port: int | None = None,
    **env: str,
) -> Iterator[Served]:
    """:func:`running_server` that also yields the process (a test may kill it); with
    ``workers`` > 1, uvicorn's supervisor and its workers."""
    port = port or free_port()
    full_env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING",
                "ONEMAP_DATA_DIR": str(ROOT / ".data" / "test"), **SMALL_POOLS, **env}  # fmt: skip
    onemap = str(Path(sys.executable).with_name("onemap"))
    log = log_file.open("wb") if log_file is not None else None
    proc = subprocess.Popen(
        [onemap, "serve", "--port", str(port), "--workers", str(workers)], env=full_env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=log if log is not None else subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                err = proc.communicate()[1] or (log_file.read_bytes() if log_file else b"")
                raise RuntimeError(f"server exited: {err.decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready in {ready_s:.0f} s")
            time.sleep(0.2)
        yield Served(base, proc)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
        if log is not None:
            log.close()
