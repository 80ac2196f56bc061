"""Finds or makes a PostgreSQL + PostGIS database for OneMap.

Order: the URL given (``ONEMAP_DATABASE_URL``); else the local server on 127.0.0.1:5432 when it
accepts connections; else a private cluster initialised under the data directory on a free port.
The database and the PostGIS extension are created when missing. Installing the PostGIS package
itself is the set-up script's job (``scripts/dev``), since it needs apt.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger("onemap.provision")

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/onemap"


class ProvisionError(RuntimeError):
    """A one-line reason the database could not be provisioned."""


def provision(data_dir: Path, url: str | None) -> str:
    """Return a libpq URL of a ready database (PostGIS installed), creating what is missing."""
    if url:
        ensure_database(url)
        return url
    if _accepts(LOCAL_SERVER.replace("/onemap", "/postgres")):
        ensure_database(LOCAL_SERVER)
        return LOCAL_SERVER
    port = start_private_cluster(data_dir / "pg")
    private = f"postgresql://postgres@127.0.0.1:{port}/onemap"
    ensure_database(private)
    return private


def _accepts(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def admin_url(url: str) -> str:
    """The same server's maintenance database (to create or drop databases)."""
    params: dict[str, Any] = conninfo_to_dict(url)
    params["dbname"] = "postgres"
    return make_conninfo(**params)


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if missing, and the PostGIS extension in it."""
    name = conninfo_to_dict(url).get("dbname") or "postgres"
    try:
        with psycopg.connect(admin_url(url), autocommit=True, connect_timeout=5) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
                log.info("created database %s", name)
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "postgis" in reason and "control" in reason:
            reason += " (install the postgresql-<version>-postgis-3 package)"
        raise ProvisionError(f"cannot prepare database {name!r}: {reason}") from exc


def _pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    path = shutil.which(tool)
    if path is None:
        raise ProvisionError(
            f"{tool} not found: install PostgreSQL (e.g. apt-get install postgresql)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as the postgres user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_private_cluster(pgdata: Path) -> int:
    """Initialise (once) and start a cluster under ``pgdata``; return its port."""
    pgdata = pgdata.resolve()
    port_file = pgdata / "onemap.port"
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(pgdata, "postgres", "postgres")
        _run(_as_owner([_pg_bin("initdb"), "-D", str(pgdata), "-U", "postgres",
                        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]))  # fmt: skip
    port = int(port_file.read_text()) if port_file.exists() else _free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    if not _accepts(url):
        opts = f"-p {port} -k {pgdata} -c listen_addresses=127.0.0.1"
        _run(_as_owner([_pg_bin("pg_ctl"), "-D", str(pgdata), "-l", str(pgdata / "server.log"),
                        "-o", opts, "-w", "start"]))  # fmt: skip
        port_file.write_text(str(port))
        for _ in range(50):
            if _accepts(url):
                break
            time.sleep(0.2)
        else:
            raise ProvisionError(f"private PostgreSQL in {pgdata} did not start; see server.log")
    return port


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ProvisionError(
            f"{Path(cmd[0]).name if cmd[0] != 'runuser' else cmd[4]} failed: {tail[0]}"
        )
