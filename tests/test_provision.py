"""Provisioning a private PostgreSQL cluster when no server answers (a fresh machine's path)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from server.kernel.provision import ProvisionError, ensure_database, start_private_cluster
from tests.conftest import ROOT


@pytest.fixture
def pgdata() -> Iterator[Path]:
    # Under the repository (not /tmp/pytest-of-root, which the postgres user cannot enter).
    path = ROOT / ".data" / f"test-pg-{os.getpid()}"
    try:
        yield path
    finally:
        if (path / "postmaster.pid").exists():
            pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
            cmd = [pg_ctl, "-D", str(path), "-m", "immediate", "stop"]
            if os.geteuid() == 0:
                cmd = ["runuser", "-u", "postgres", "--", *cmd]
            subprocess.run(cmd, check=False, capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


def test_private_cluster_is_initialised_started_and_reused(pgdata: Path) -> None:
    port = start_private_cluster(pgdata)
    url = f"postgresql://postgres@127.0.0.1:{port}/onemap"
    ensure_database(url)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT postgis_lib_version()").fetchone()
    assert row is not None
    assert row[0].startswith("3.")
    # A second call finds it running on the same port and changes nothing.
    assert start_private_cluster(pgdata) == port
    ensure_database(url)


def test_an_unreachable_server_is_a_one_line_provision_error() -> None:
    with pytest.raises(ProvisionError, match="cannot prepare database 'x'") as caught:
        ensure_database("postgresql://postgres@127.0.0.1:1/x")
    assert "\n" not in str(caught.value)
