"""PostgreSQL goes down and comes back, for real: a private cluster on a free port, stopped
with ``pg_ctl stop -m fast`` and started again under the running app.

While it is down every surface answers 503 within a second, in its own format, with
``Retry-After`` (problem+json, a GraphQL error with ``extensions.code`` UNAVAILABLE, an OGC
exception), and ``/readyz`` says the database is down; when it is back the same app answers
200 again within seconds, without a restart (docs/reliability.md).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from geo import migrate
from server.app import create_app
from server.kernel.provision import provision, start_private_cluster
from tests.conftest import settings_for, sqlalchemy_url

pytestmark = pytest.mark.slow

#: What an outage may take to be answered (the brief: within a second) and to end.
FAST_S = 1.0
RECOVERY_S = 15.0


@dataclass
class Surface:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None


SURFACES = [
    Surface("rest", "GET", "/api/v1/services"),
    Surface("graphql", "POST", "/graphql", {"query": "{ departments { code } }"}),
    Surface("ogc", "GET", "/ogc/collections/facilities/items?limit=1"),
    Surface("ogc html", "GET", "/ogc/collections/facilities/items?f=html&limit=1"),
    Surface("tiles", "GET", "/ogc/collections/facilities/tiles/WebMercatorQuad/12/1673/3430"),
    Surface("readyz", "GET", "/readyz"),
]


def _pg_ctl(pgdata: Path, *args: str) -> None:
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    cmd = [pg_ctl, "-D", str(pgdata), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Path, str]]:
    """A private cluster with a migrated, empty OneMap database: (its data dir, its URL)."""
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        pytest.skip("PostgreSQL's server binaries are not installed")
    pgdata = Path(tempfile.mkdtemp(prefix="onemap-outage-"))
    try:
        port = start_private_cluster(pgdata)
        url = provision(pgdata, f"postgresql://postgres@127.0.0.1:{port}/onemap")
        migrate.upgrade(sqlalchemy_url(url))
        yield pgdata, url
    finally:
        if (pgdata / "postmaster.pid").exists():
            _pg_ctl(pgdata, "-m", "immediate", "-w", "stop")
        shutil.rmtree(pgdata, ignore_errors=True)


def _call(client: TestClient, s: Surface) -> tuple[Any, float]:
    started = time.monotonic()
    r = client.request(s.method, s.path, json=s.body)
    return r, time.monotonic() - started


def _check_unavailable(s: Surface, r: Any) -> None:
    """A 503 (or GraphQL's UNAVAILABLE) in the surface's format, saying when to retry."""
    assert int(r.headers["retry-after"]) >= 1, (s.name, r.headers)
    media = r.headers["content-type"].split(";")[0]
    if s.name == "graphql":
        errors = r.json()["errors"]
        assert r.status_code == 503 and errors[0]["extensions"]["code"] == "UNAVAILABLE", r.text
    elif s.name.startswith(("ogc", "tiles")):
        assert r.status_code == 503 and media == "application/json", r.text
        assert r.json()["code"] == "ServiceUnavailable" and r.json()["description"]
    elif s.name == "readyz":
        body = r.json()
        assert r.status_code == 503 and body["status"] == "not_ready", r.text
        assert body["checks"]["database"].startswith(("down", "unreachable")), body
    else:
        assert r.status_code == 503 and media == "application/problem+json", r.text
        assert r.json()["type"] == "urn:onemap:problem:unavailable" and r.json()["detail"]


def test_an_outage_is_a_fast_503_everywhere_and_ends_without_a_restart(
    cluster: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    pgdata, url = cluster
    settings = settings_for(url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for s in SURFACES:
            r, _ = _call(client, s)
            assert r.status_code == 200, (s.name, r.text[:300])

        stopped = time.monotonic()
        _pg_ctl(pgdata, "-m", "fast", "-w", "stop")
        slowest: dict[str, float] = {}
        for _ in range(3):  # the first request meets a broken connection, the next none
            for s in SURFACES:
                r, took = _call(client, s)
                _check_unavailable(s, r)
                slowest[s.name] = max(slowest.get(s.name, 0.0), took)
        assert max(slowest.values()) < FAST_S, slowest
        down_for = time.monotonic() - stopped

        start_private_cluster(pgdata)  # the same port (its port file), the same data
        restarted = time.monotonic()
        back: dict[str, float] = {}
        while len(back) < len(SURFACES) and time.monotonic() - restarted < RECOVERY_S:
            for s in SURFACES:
                if s.name in back:
                    continue
                r, took = _call(client, s)
                assert r.status_code in (200, 503), (s.name, r.status_code, r.text[:300])
                assert took < 6.0, (s.name, took)
                if r.status_code == 200:
                    back[s.name] = time.monotonic() - restarted
            time.sleep(0.1)
        assert set(back) == {s.name for s in SURFACES}, back
    with capsys.disabled():
        print(
            f"\noutage: down {down_for:.1f} s; slowest answer while down (s): "
            + ", ".join(f"{k} {v:.3f}" for k, v in slowest.items())
            + "; back after the restart (s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in back.items())
        )
