"""A real streaming replica of the test server, for the read-replica tests (docs/scale.md).

``pg_basebackup -R`` copies the primary's cluster (the session's seeded database included)
into a private directory and writes ``standby.signal`` and ``primary_conninfo``; ``pg_ctl``
starts it as a hot standby on a free port, on 127.0.0.1 only, as the ``postgres`` OS user
(PostgreSQL refuses to run as root). Later writes on the primary stream to it.

The primary must allow replication connections from 127.0.0.1: ``scripts/dev`` adds
``host replication all 127.0.0.1/32 trust`` to the local Debian cluster's pg_hba.conf. The
helper edits no server configuration itself: without that line it raises
:class:`ReplicaUnavailable` with the reason, and the fixture fails with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
#: The primary's replication slot of a test replica: prefix, test process id, random part.
SLOT_PREFIX = "onemap_test_replica_"
#: How long a new replica may take to replay what the primary wrote while it was copied.
CATCH_UP_S = 120.0


class ReplicaUnavailable(RuntimeError):
    """The primary cannot be copied (no replication access, no PostgreSQL binaries)."""


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], timeout: float = 120) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ReplicaUnavailable(f"{' '.join(cmd[-6:])}: {(done.stderr or done.stdout).strip()}")


@dataclass
class Replica:
    """A running hot standby: its directory, port and the URL of one database on it."""

    directory: Path
    port: int
    url: str
    seconds_to_make: float
    primary_url: str
    slot: str

    def query(self, statement: str) -> Any:
        """One value from the replica (as the admin)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as conn:
            row = conn.execute(statement).fetchone()  # type: ignore[arg-type]
            return None if row is None else row[0]

    def pause_replay(self) -> None:
        self.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        _pg_ctl(self.directory, "stop", "-m", "fast")

    def start(self) -> None:
        _start(self.directory, self.port)

    def running(self) -> bool:
        try:
            self.query("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def wait_for(self, lsn: str, timeout_s: float = 10.0) -> None:
        """Until the replica has replayed ``lsn`` (a primary's pg_current_wal_lsn())."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.query(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"):
                return
            time.sleep(0.05)
        raise TimeoutError(f"replica did not replay {lsn} within {timeout_s} s")


def _pg_ctl(directory: Path, *args: str) -> None:
    _run(_as_postgres([str(BIN / "pg_ctl"), "-D", str(directory), "-w", *args]))


def _start(directory: Path, port: int) -> None:
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c hot_standby=on"
    log = directory / "server.log"
    try:
        _run(_as_postgres([str(BIN / "pg_ctl"), "-D", str(directory), "-l", str(log),
                           "-o", options, "-w", "start"]))  # fmt: skip
    except ReplicaUnavailable as exc:
        tail = log.read_text(errors="replace").strip().splitlines()[-8:] if log.exists() else []
        raise ReplicaUnavailable(f"{exc}; {' / '.join(tail)}") from None


#: A hot standby needs these at least as high as its primary's.
_AT_LEAST_PRIMARY = ("max_connections", "max_worker_processes", "max_wal_senders",
                     "max_prepared_transactions", "max_locks_per_transaction")  # fmt: skip


def _configure(directory: Path, primary_url: str) -> None:
    """Debian keeps a cluster's configuration in /etc, so the copy has none: the replica's own
    (trust on its socket and 127.0.0.1, as the test server; the primary's limits), owned by
    postgres."""
    with psycopg.connect(primary_url, autocommit=True) as primary:
        limits = primary.execute(
            "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(_AT_LEAST_PRIMARY)]
        ).fetchall()
    conf = "".join(f"{name} = {value}\n" for name, value in limits)
    files = {
        "postgresql.conf": "# a test replica (tests/replica_helpers.py)\n" + conf,
        "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        "pg_ident.conf": "",
    }
    for name, text in files.items():
        path = directory / name
        if not path.exists():
            path.write_text(text)
            if os.geteuid() == 0:
                shutil.chown(path, "postgres", "postgres")


def make_replica(primary_url: str) -> Replica:
    """A streaming replica of ``primary_url``'s cluster, running, caught up with it; its
    ``url`` names the same database on the replica."""
    if not (BIN / "pg_basebackup").exists():
        raise ReplicaUnavailable(f"no {BIN / 'pg_basebackup'} (Debian postgresql-15)")
    began = time.monotonic()
    _drop_orphan_slots(primary_url)
    slot = f"{SLOT_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:6]}"
    parts = urlsplit(primary_url)
    host, primary_port = parts.hostname or "127.0.0.1", parts.port or 5432
    directory = Path(tempfile.mkdtemp(prefix="onemap-replica-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    directory.chmod(0o700)
    try:
        # A slot (-C -S) keeps the primary's WAL until the replica has it: the shared server
        # is busy, and without one the segment the copy ends in was gone before it started.
        _run(_as_postgres([str(BIN / "pg_basebackup"), "-h", host, "-p", str(primary_port),
                           "-U", parts.username or "postgres", "-D", str(directory), "-R",
                           "-C", "-S", slot, "-X", "stream", "--checkpoint=fast",
                           "--no-sync"]))  # fmt: skip
        _configure(directory, primary_url)
        port = _free_port()
        _start(directory, port)
        url = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}").geturl()
        replica = Replica(directory, port, url, 0.0, primary_url, slot)
        with psycopg.connect(primary_url, autocommit=True) as primary:
            lsn = str(primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
        # Caught up with the primary as it was once the copy ran: the WAL written meanwhile
        # (the shared server is busy) is replayed first.
        replica.wait_for(lsn, timeout_s=CATCH_UP_S)
    except BaseException:
        if (directory / "postmaster.pid").exists():
            _pg_ctl(directory, "stop", "-m", "immediate")
        shutil.rmtree(directory, ignore_errors=True)
        _drop_slot(primary_url, slot)
        raise
    replica.seconds_to_make = time.monotonic() - began
    return replica


def _drop_slot(primary_url: str, slot: str) -> None:
    with psycopg.connect(primary_url, autocommit=True) as primary:
        primary.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s AND NOT active",
            [slot],
        )


def _drop_orphan_slots(primary_url: str) -> None:
    """Slots a killed test session left (its pid gone): they would hold WAL for ever."""
    with psycopg.connect(primary_url, autocommit=True) as primary:
        names = primary.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s AND NOT active",
            [SLOT_PREFIX + "%"],
        ).fetchall()
    for (name,) in names:
        pid = int(name.removeprefix(SLOT_PREFIX).split("_")[0])
        if not Path(f"/proc/{pid}").exists():
            _drop_slot(primary_url, name)


def remove_replica(replica: Replica) -> None:
    """Stop it (if running) and delete its directory."""
    if replica.running():
        try:
            replica.stop()
        except ReplicaUnavailable:
            _pg_ctl(replica.directory, "stop", "-m", "immediate")
    shutil.rmtree(replica.directory, ignore_errors=True)
    _drop_slot(replica.primary_url, replica.slot)
