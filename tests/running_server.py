"""A real ``onemap serve`` on a free 127.0.0.1 port against the session database.

Two topologies (``ONEMAP_TEST_TOPOLOGY``, docs/scale.md "The topology in the tests"):

- ``scaled`` (the default): two worker processes behind the one port (``--workers 2``) and the
  run's streaming replica (tests/shared_replica.py) as ``ONEMAP_DATABASE_REPLICA_URLS``, so
  every test that talks to a running server does so as production runs: a request may reach
  either worker, lag-tolerant reads come from a replica;
- ``single``: one process on the primary alone (what a debugger wants).

A test that passes its own ``ONEMAP_DATABASE_REPLICA_URLS`` (empty: none) keeps it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import ROOT
from tests.shared_replica import replica_url_for

TOPOLOGY_ENV = "ONEMAP_TEST_TOPOLOGY"
TOPOLOGIES = ("scaled", "single")
#: Worker processes behind the port in the scaled topology.
SCALED_WORKERS = 2

#: A test server's connections: the suite runs in one worker per core, each with its servers,
#: beside whatever else uses the PostgreSQL server (100 connections by default); production
#: sizes (16 + 16 + 4) for two servers at once came close to it. A test may ask for more.
SMALL_POOLS = {"ONEMAP_DATABASE_POOL_MAX_SIZE": "8", "ONEMAP_OGC_POOL_SIZE": "6",
               "ONEMAP_OGC_SYNC_POOL_SIZE": "2"}  # fmt: skip
#: Per worker when there are two: the same connections per server in all.
SCALED_POOLS = {"ONEMAP_DATABASE_POOL_MIN_SIZE": "1", "ONEMAP_DATABASE_POOL_MAX_SIZE": "4",
                "ONEMAP_OGC_POOL_SIZE": "3", "ONEMAP_OGC_SYNC_POOL_SIZE": "1"}  # fmt: skip


def topology() -> str:
    """The topology servers are started in: ONEMAP_TEST_TOPOLOGY, ``scaled`` unless set."""
    chosen = os.environ.get(TOPOLOGY_ENV, "scaled") or "scaled"
    if chosen not in TOPOLOGIES:
        raise ValueError(f"{TOPOLOGY_ENV}={chosen!r}: one of {', '.join(TOPOLOGIES)}")
    return chosen


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
    workers: int | None = None,
    ready_s: float | None = None,
    port: int | None = None,
    **env: str,
) -> Iterator[Served]:
    """:func:`running_server` that also yields the process (a test may kill it). ``workers``
    None: the topology's (two in the scaled one); a test that needs to aim at one process
    (the camera relays' "two hosts") asks for 1. ``ready_s`` None: a minute per worker."""
    port = port or free_port()
    scaled = topology() == "scaled"
    if workers is None:
        workers = SCALED_WORKERS if scaled else 1
    shape: dict[str, str] = dict(SCALED_POOLS if workers > 1 else SMALL_POOLS)
    if scaled and "ONEMAP_DATABASE_REPLICA_URLS" not in env:
        shape["ONEMAP_DATABASE_REPLICA_URLS"] = replica_url_for(database_url)
    full_env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING",
                "ONEMAP_DATA_DIR": str(ROOT / ".data" / "test"), **shape, **env}  # fmt: skip
    onemap = str(Path(sys.executable).with_name("onemap"))
    # The log goes to a file, never a pipe nobody reads while the server runs: two workers'
    # warnings would fill it and block them.
    log = log_file.open("w+b") if log_file is not None else tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen(
        [onemap, "serve", "--port", str(port), "--workers", str(workers)], env=full_env,
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _until_ready(proc, base, workers, log, ready_s)
        yield Served(base, proc)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
        log.close()


def _until_ready(
    proc: subprocess.Popen[bytes], base: str, workers: int, log: IO[bytes], limit_s: float | None
) -> None:
    """Until every worker has answered /readyz ready (each names its ``instance``): a new
    connection each time, so the kernel hands them to the workers in turn."""
    seen: set[str] = set()
    # Each worker imports and starts on its own: on 2 busy cores, a minute each at worst.
    limit_s = limit_s or 60.0 * workers
    deadline = time.monotonic() + limit_s
    r: httpx.Response | None = None
    while len(seen) < workers:
        try:
            r = httpx.get(f"{base}/readyz", timeout=2)
            if r.status_code == 200:
                seen.add(str(r.json().get("instance")))
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {_tail(log)}")
        if time.monotonic() > deadline:
            last = r.text[:300] if r is not None else "no answer"
            raise RuntimeError(f"{len(seen)} of {workers} workers ready in {limit_s:.0f} s "
                               f"(/readyz: {last}); log: {_tail(log)}")  # fmt: skip
        time.sleep(0.1)


def _tail(log: IO[bytes], size: int = 2000) -> str:
    """The end of the server's log so far."""
    log.flush()
    log.seek(0)
    return log.read()[-size:].decode(errors="replace")
