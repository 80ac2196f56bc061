"""CPU time spent by each part of the ingest pipeline, from /proc (Linux): the server process,
PostgreSQL (the backends on the benchmark's database, WAL writer, checkpointer, background
writer), Mosquitto, and the publishers (the benchmark's reaped children). Divided by the
readings stored it gives microseconds of CPU per reading per part — what decides the ceiling
on a machine of a given number of cores.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


#: PostgreSQL's shared helpers, which work for every database (WAL, checkpoints).
_SHARED = (": walwriter", ": checkpointer", ": background writer")


def postgres_cpu(database: str) -> float:
    """CPU seconds of PostgreSQL's backends on ``database`` (their process titles name it) and
    of its shared helpers; other databases' backends (another test run) are left out."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            title = title.strip()
            if title.startswith("postgres: ") and (
                title.endswith(_SHARED) or f" {database} " in title
            ):
                total += process_cpu(int(entry.name))
    return total


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def reaped_children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class Meter:
    """CPU seconds per part between ``start`` and ``stop``."""

    server_pids: list[int]
    broker_pid: int
    database: str

    def read(self) -> dict[str, float]:
        return {
            "server": sum(process_cpu(p) for p in self.server_pids),
            "postgres": postgres_cpu(self.database),
            "mosquitto": process_cpu(self.broker_pid),
            "publishers": reaped_children_cpu(),
        }

    def start(self) -> None:
        self._before = self.read()

    def stop(self) -> dict[str, float]:
        after = self.read()
        return {k: after[k] - self._before[k] for k in after}
