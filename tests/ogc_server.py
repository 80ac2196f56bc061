"""A real ``onemap serve`` on a free 127.0.0.1 port, on the session's database, for clients
that speak HTTP themselves (GDAL, OWSLib, schemathesis)."""

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

ONEMAP = str(Path(sys.executable).with_name("onemap"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(database_url: str, log: Path) -> Iterator[str]:
    """Yields the base URL; the server is stopped (by its pid) afterwards."""
    port = free_port()
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING",
           "ONEMAP_DATA_DIR": str(ROOT / ".data" / "test"),
           "ONEMAP_SERVER_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [ONEMAP, "serve", "--port", str(port)], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/ogc/collections", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"onemap serve did not start: {log.read_text()[-2000:]}")
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
