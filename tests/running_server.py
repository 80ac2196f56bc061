"""A real ``onemap serve`` on a free 127.0.0.1 port against the session database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(database_url: str, **env: str) -> Iterator[str]:
    """Yield the base URL while the server runs; stop it afterwards. The server shares the
    test keys (.data/test), so the ``tokens`` fixture's tokens are valid there."""
    port = free_port()
    full_env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING",
                "ONEMAP_DATA_DIR": str(ROOT / ".data" / "test"), **env}  # fmt: skip
    onemap = str(Path(sys.executable).with_name("onemap"))
    proc = subprocess.Popen(
        [onemap, "serve", "--port", str(port)], env=full_env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.communicate()[1]}")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready in 30 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
