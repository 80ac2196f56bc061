"""The scale benchmark (issue 18, item 5): OneMap with 1 and 2 workers, with and without a
streaming replica, on this machine; and the replica's lag under the sensors' write load.

    .venv/bin/python bench/ogc/run.py --load            # once: the scale-10 city (onemap_bench)
    .venv/bin/python -m bench.scale.run --duration 15   # writes bench/results/scale-<date>.md

Part 1, **the curve**: for each topology (workers × replica), ``onemap serve --workers N`` on
127.0.0.1 and wrk (2 threads, 16 connections) on Q1 (facilities in a ~1 km bbox, limit 100),
Q3 (one facility by id) and Q5 (a facilities vector tile at z14, tile cache off: every tile
built), each rotating through the OGC benchmark's 64 fixed variants (bench/ogc/run.py). With
the replica, reads go to it (docs/scale.md): each row says how many transactions the primary
and the replica committed in the bench database while it ran (pg_stat_database).

Part 2, **replica lag under write load**: the sensors benchmark's ingest (50 devices publishing
over MQTT into a real server, bench/sensors/run.py) runs against a scratch database on the
same cluster while the replica streams it; ``pg_stat_replication`` on the primary is sampled
every 100 ms: the replica's replay lag (time) and how many bytes of WAL it is behind.

One replica of the whole local cluster is made once (``pg_basebackup -R``, tests/
replica_helpers.py, which needs scripts/dev's replication line in pg_hba.conf) and removed at
the end. Everything runs on the same cores: server processes, PostgreSQL (primary and
replica), wrk, and in part 2 Mosquitto and the devices — the report says what that bounds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench import loadgen  # noqa: E402
from bench.loadgen import Request, cpu_seconds  # noqa: E402
from bench.ogc import run as ogc  # noqa: E402
from tests.replica_helpers import Replica, make_replica, remove_replica  # noqa: E402

QUERIES = {"Q1": ogc.TITLES["Q1"], "Q3": ogc.TITLES["Q3"], "Q5": ogc.TITLES["Q5"] + " (cold)"}
TOPOLOGIES = [(1, False), (2, False), (1, True), (2, True)]


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's workers)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += tree_cpu(int(child))
    return total


def start(
    url: str, workers: int, replica: Replica | None, folder: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = loadgen.free_port()
    env = {
        **os.environ,
        "ONEMAP_DATABASE_URL": url,
        "ONEMAP_LOG_LEVEL": "WARNING",
        "ONEMAP_DATA_DIR": str(ROOT / ".data" / "bench"),
        "ONEMAP_OGC_TILE_CACHE_MB": "0",
        "ONEMAP_DATABASE_REPLICA_URLS": replica_url(url, replica) if replica else "",
    }
    log = (folder / f"serve-{workers}-{bool(replica)}.log").open("wb")
    proc = subprocess.Popen(
        [str(ogc.BIN / "onemap"), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if ready.status_code == 200 and (replica is None or replica_used(ready.json())):
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"onemap serve --workers {workers} did not start; see {log.name}")


def replica_url(primary_url: str, replica: Replica) -> str:
    """The bench database on the replica (the replica copies the whole cluster)."""
    dbname = psycopg.conninfo.conninfo_to_dict(primary_url)["dbname"]
    return urlsplit(replica.url)._replace(path=f"/{dbname}").geturl()


def replica_used(readyz: dict[str, Any]) -> bool:
    return any(r.get("used") for r in readyz.get("replicas", []))


def commits(url: str) -> int:
    """Transactions committed so far in the bench database on this server (pg_stat_database;
    a standby counts the ones run on it)."""
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [dbname]
        ).fetchone()
    return int(row[0]) if row else 0


def curve(
    url: str, replica: Replica, args: argparse.Namespace, folder: Path
) -> list[dict[str, Any]]:
    v = ogc.variants(url)
    rows = []
    for workers, with_replica in TOPOLOGIES:
        proc, port = start(url, workers, replica if with_replica else None, folder)
        try:
            for q in args.queries.split(","):
                urls = ogc.paths("onemap", q, v)
                problem = ogc.check(port, urls)
                if problem:
                    raise SystemExit(f"{q} with {workers} workers: {problem}")
                requests = [Request("GET", u) for u in urls]
                loadgen.wrk(port, requests, args.warmup, args.connections, folder)
                before = tree_cpu(proc.pid)
                on = {"primary": commits(url), "replica": commits(replica_url(url, replica))}
                r: dict[str, Any] = loadgen.wrk(
                    port, requests, args.duration, args.connections, folder
                )
                r["cpu_ms"] = (tree_cpu(proc.pid) - before) * 1000 / max(1, r["requests"])
                time.sleep(1.5)  # statistics reach pg_stat_database within a second
                r["primary_xacts"] = commits(url) - on["primary"]
                r["replica_xacts"] = commits(replica_url(url, replica)) - on["replica"]
                r |= {"q": q, "workers": workers, "replica": with_replica}
                rows.append(r)
                print(workers, with_replica, q, r, flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def lag_under_load(url: str, replica: Replica, args: argparse.Namespace) -> dict[str, Any]:
    """The sensors benchmark's ingest while pg_stat_replication is sampled every 100 ms."""
    samples: list[tuple[float, float]] = []  # (replay lag s, bytes behind)
    stop = threading.Event()

    def sample() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT COALESCE(EXTRACT(EPOCH FROM replay_lag), 0), "
                    "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) "
                    "FROM pg_stat_replication WHERE application_name <> 'pg_basebackup' "
                    "ORDER BY backend_start DESC LIMIT 1"
                ).fetchone()
                if row is not None:
                    samples.append((float(row[0]), float(row[1] or 0)))
                time.sleep(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    scratch = urlsplit(url)._replace(path="/postgres").geturl()
    cmd = [
        sys.executable,
        "-m",
        "bench.sensors.run",
        "--devices",
        "50",
        "--readings",
        str(args.readings),
        "--alarms",
        "5",
        "--seconds",
        "1",
        "--out",
        str(Path(tempfile.gettempdir()) / "scale-sensors.md"),
    ]
    watcher.start()
    began = time.monotonic()
    done = subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, "ONEMAP_DATABASE_URL": scratch},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    elapsed = time.monotonic() - began
    stop.set()
    watcher.join()
    if done.returncode != 0:
        raise SystemExit(f"the sensors benchmark failed: {done.stderr[-2000:]}")
    lags = sorted(s[0] for s in samples)
    behind = sorted(s[1] for s in samples)

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

    report = Path(tempfile.gettempdir()) / "scale-sensors.md"
    return {
        "seconds": elapsed,
        "samples": len(samples),
        "lag_p50_ms": pct(lags, 0.5) * 1000,
        "lag_p99_ms": pct(lags, 0.99) * 1000,
        "lag_max_ms": (lags[-1] if lags else float("nan")) * 1000,
        "behind_p50_kb": pct(behind, 0.5) / 1024,
        "behind_max_kb": (behind[-1] if behind else 0) / 1024,
        "mean_lag_ms": statistics.fmean(lags) * 1000 if lags else float("nan"),
        "sensors_report": report.read_text() if report.exists() else "",
    }


def write(args: argparse.Namespace, rows: list[dict[str, Any]], lag: dict[str, Any] | None) -> Path:
    stamp = datetime.now(UTC)
    out: Path = args.out or ROOT / "bench" / "results" / f"scale-{stamp:%Y-%m-%d}.md"
    cmd = " ".join(["python -m bench.scale.run", *sys.argv[1:]])
    if not rows and lag is not None and out.exists():  # --skip-curve: add to the curve's file
        with out.open("a") as f:
            f.write("\n" + "\n".join(_lag_lines(args, lag, cmd)) + "\n")
        return out
    lines = [
        f"# Scale benchmark, {stamp:%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{cmd}`  ",
        f"City: {args.database_url.rsplit('/', 1)[-1]}; {os.cpu_count()} cores shared by "
        "the server's workers, PostgreSQL (primary and replica), wrk "
        f"(-t2 -c{args.connections}, {args.duration} s after {args.warmup} s warm-up, 64 "
        "fixed variants per query). `cpu ms/req`: all the server's processes.",
        "",
    ]
    if rows:
        lines += [
            "| query | workers | replica | req/s | p50 ms | p99 ms | errors | cpu ms/req |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['q']} {QUERIES.get(r['q'], '')} | {r['workers']} | "
                f"{'yes' if r['replica'] else 'no'} | {r['rps']:.1f} | {r['p50']:.1f} | "
                f"{r['p99']:.1f} | {int(r['errors'])} | {r['cpu_ms']:.2f} |"
            )
        lines += ["", "Ratios (same run):", ""]
        by = {(r["q"], r["workers"], r["replica"]): r["rps"] for r in rows}
        for q in args.queries.split(","):
            one = by.get((q, 1, False))
            if one:
                parts = [
                    f"{w}w{'+replica' if rep else ''} {by[(q, w, rep)] / one:.2f}×"
                    for w, rep in TOPOLOGIES
                    if (q, w, rep) in by
                ]
                lines.append(f"- {q}: " + ", ".join(parts) + " of one worker on the primary")
        lines += [
            "",
            "Where the reads went (transactions committed in the bench database "
            "during each timed run, from pg_stat_database on each server):",
            "",
        ]
        for r in rows:
            lines.append(
                f"- {r['q']}, {r['workers']} worker(s), replica "
                f"{'on' if r['replica'] else 'off'}: primary {r['primary_xacts']:,}, "
                f"replica {r['replica_xacts']:,} (requests {r['requests']:,})"
            )
    if lag:
        lines += ["", *_lag_lines(args, lag, cmd)]
    out.write_text("\n".join(lines) + "\n")
    return out


def _lag_lines(args: argparse.Namespace, lag: dict[str, Any], cmd: str) -> list[str]:
    return ["## Replica lag under the sensors' write load", "", f"Command: `{cmd}`  ",
            f"`python -m bench.sensors.run --devices 50 --readings {args.readings} --alarms 5` "
            "against a scratch database on the primary while `pg_stat_replication` was sampled "
            f"every 100 ms ({lag['samples']} samples over {lag['seconds']:.0f} s):", "",
            "| replay lag p50 | p99 | max | WAL behind p50 | max |",
            "|---:|---:|---:|---:|---:|",
            f"| {lag['lag_p50_ms']:.0f} ms | {lag['lag_p99_ms']:.0f} ms | "
            f"{lag['lag_max_ms']:.0f} ms | {lag['behind_p50_kb']:.0f} KiB | "
            f"{lag['behind_max_kb']:.0f} KiB |", "",
            "The sensors benchmark's own report of that run:", "", "```",
            lag["sensors_report"].strip(), "```"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=ogc.DEFAULT_URL)
    ap.add_argument("--duration", type=int, default=15, help="seconds per query per topology")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--readings", type=int, default=4000, help="per device, in the lag part")
    ap.add_argument("--skip-curve", action="store_true")
    ap.add_argument("--skip-lag", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    print("making a streaming replica of the local cluster (pg_basebackup)…", flush=True)
    replica = make_replica(args.database_url)
    print(f"replica on port {replica.port} in {replica.seconds_to_make:.0f} s", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [] if args.skip_curve else curve(args.database_url, replica, args, Path(tmp))
            if rows:  # the curve is kept even if the lag part fails
                print("wrote", write(args, rows, None))
            lag = None if args.skip_lag else lag_under_load(args.database_url, replica, args)
    finally:
        remove_replica(replica)
    if lag is not None:
        print("wrote", write(args, rows, lag))


if __name__ == "__main__":
    main()
