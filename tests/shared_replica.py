"""One streaming replica for a whole test run: the scaled topology's (tests/running_server.py).

A physical replica copies the whole cluster and then replays everything the primary writes,
``CREATE DATABASE`` included, so one replica serves every pytest-xdist worker's database:
the first worker that starts a scaled server makes it (``pg_basebackup``, under a file lock),
the others find it in a state file named for the run, and the run's controller (the process
that started the workers, or the only process with ``-n 0``) removes it at the end.

The run's name comes from ``ONEMAP_TEST_RUN``, which the controller sets before the workers
start (tests/conftest.py), so they inherit it. ``tests/test_replicas.py`` pauses and stops a
replica of its own (the ``replica`` fixture), never this one: the scaled servers' replica is
only ever a healthy, streaming one.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from filelock import FileLock
from psycopg.conninfo import conninfo_to_dict

from tests.replica_helpers import Replica, make_replica, remove_replica

RUN_ENV = "ONEMAP_TEST_RUN"
STATE_DIR = Path(__file__).resolve().parent.parent / ".data" / "test"


def name_the_run() -> None:
    """In the controller, before the workers start: the run's name, which they inherit."""
    os.environ.setdefault(RUN_ENV, f"{os.getpid()}_{uuid.uuid4().hex[:8]}")


def _state_file() -> Path:
    return STATE_DIR / f"replica-{os.environ.get(RUN_ENV, str(os.getpid()))}.json"


def _load(path: Path) -> Replica:
    data = json.loads(path.read_text())
    return Replica(**{**data, "directory": Path(data["directory"])})


def shared_replica(database_url: str) -> Replica:
    """The run's replica, made on the first call of the run; caught up with the primary as it
    is now (so it holds ``database_url``'s database, made after the replica perhaps)."""
    path = _state_file()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock", timeout=300):
        if path.exists():
            replica = _load(path)
            if not replica.running():  # a test stopped it, or it died: start it again
                replica.start()
        else:
            _remove_orphans()
            # Made from the maintenance database: the session's own is dropped before the end.
            replica = make_replica(urlsplit(database_url)._replace(path="/postgres").geturl())
            path.write_text(json.dumps({**asdict(replica), "directory": str(replica.directory)}))
    with psycopg.connect(database_url, autocommit=True) as primary:
        lsn = str(primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
    replica.wait_for(lsn, timeout_s=60)
    return replica


def replica_url_for(database_url: str) -> str:
    """The server's ``ONEMAP_DATABASE_REPLICA_URLS`` for ``database_url``: the same database
    on the run's replica, without a user (the server logs in there as on the primary)."""
    replica = shared_replica(database_url)
    name = conninfo_to_dict(database_url)["dbname"]
    return (
        urlsplit(replica.url)._replace(netloc=f"127.0.0.1:{replica.port}", path=f"/{name}").geturl()
    )


def _remove_orphans() -> None:
    """Replicas of runs whose controller is gone (killed before its end): stopped, removed."""
    for path in STATE_DIR.glob("replica-*.json"):
        pid = path.stem.removeprefix("replica-").split("_")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(Exception):  # half removed already: what is left goes
                remove_replica(_load(path))
            path.unlink(missing_ok=True)
            Path(f"{path}.lock").unlink(missing_ok=True)


def remove_run_replica() -> None:
    """At the end of the run, in the controller: stop and delete the run's replica, if made."""
    path = _state_file()
    if not path.exists():
        return
    with FileLock(f"{path}.lock", timeout=60):
        remove_replica(_load(path))
        path.unlink(missing_ok=True)
    Path(f"{path}.lock").unlink(missing_ok=True)
