"""The sensors benchmark (issue 15, item 8), three figures in one run on one scratch city:

1. **Ingest**: ``--devices`` devices publish ``--readings`` readings each at QoS 1 through a
   private Mosquitto into a real ``onemap serve`` (its MQTT ingest, one process). The devices
   are Debian's ``mosquitto_pub -l`` (C, one process per device, each reading a prepared file),
   so the publishers cost the two cores little and the figure is the server's. Stored per
   second, sustained (first stored to last), and lost (acknowledged − stored: must be 0),
   beside the **raw COPY ceiling**: the same number of rows COPYed straight into
   ``sta_observations`` in one transaction, in the same run.
2. **Alarm to case event**: a gauge's third reading over its warning line (the default rule:
   60 s and three readings) published over MQTT, until the case it makes arrives in a
   dispatcher's GraphQL subscription (``caseEvents`` over graphql-transport-ws): p50, p99 of
   ``--alarms`` gauges (target p99 < 1 s).
3. **Reading a Datastream**: ``GET /sta/v1.1/Datastreams(id)/Observations?$top=100&$orderby=
   phenomenonTime desc`` with wrk (2 threads, 16 connections), rotating over the devices.

    apt-get install mosquitto mosquitto-clients wrk
    ONEMAP_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
      .venv/bin/python -m bench.sensors.run --out bench/results/sensors-<date>.md

A scratch database (seeded at scale 0.05 for its grid, departments and categories) is made
and dropped. Loopback only; every stage is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from websockets.sync.client import connect

from bench import loadgen
from bench.loadgen import Request
from bench.sensors import cpu

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "v1.1/Datastreams({})/Observations"
CASE_EVENTS = "subscription { caseEvents { case { id } event { eventType } } }"


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM sta_observations").fetchone()
    return int(row[0]) if row else 0


def copy_ceiling(url: str, streams: list[int], per_stream: int) -> float:
    """Rows per second of one COPY of the same number of rows straight into the table, the
    text prepared beforehand (the database's side only; rolled back)."""
    start = datetime.now(UTC) - timedelta(days=2)
    with psycopg.connect(url) as conn:
        foi = conn.execute("SELECT id FROM sta_features_of_interest LIMIT 1").fetchone()
        assert foi is not None
        rows = []
        for i in range(per_stream):
            at = (start + timedelta(milliseconds=i)).isoformat()
            rows += [f"{ds}\t{at}\t{at}\t{i % 97}\t{foi[0]}\n" for ds in streams]
        text = "".join(rows).encode()
        columns = "datastream_id, phenomenon_time, result_time, result, feature_of_interest_id"
        began = time.perf_counter()
        with conn.cursor().copy(f"COPY sta_observations ({columns}) FROM STDIN") as copy:
            for k in range(0, len(text), 1 << 20):
                copy.write(text[k : k + (1 << 20)])
        elapsed = time.perf_counter() - began
        conn.rollback()
    return len(streams) * per_stream / elapsed


def _files(folder: Path, streams: list[int], per_stream: int) -> list[Path]:
    start = datetime.now(UTC) - timedelta(days=1)
    files = []
    for ds in streams:
        path = folder / f"ds{ds}.txt"
        lines = (
            f'{{"phenomenonTime":"{(start + timedelta(milliseconds=i)).isoformat()}",'
            f'"result":{i % 97}}}'
            for i in range(per_stream)
        )
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


def _publisher(port: int, user: str, password: str, ds: int, path: Path) -> subprocess.Popen[bytes]:
    """One device: mosquitto_pub sending each line of its file at QoS 1 (it exits once every
    one is acknowledged)."""
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password,
               "-q", "1", "-t", TOPIC.format(ds), "-l", "-i", f"bench-{ds}"]  # fmt: skip
    return subprocess.Popen(command, stdin=path.open("rb"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip


def ingest(url: str, port: int, creds: list[tuple[str, str, int]], per_stream: int,
           folder: Path, timeout_s: float, meter: cpu.Meter) -> dict[str, Any]:  # fmt: skip
    """Every device publishes its file; the stored count sampled until all are in."""
    before = _count(url)
    files = _files(folder, [ds for _u, _p, ds in creds], per_stream)
    total = len(creds) * per_stream
    meter.start()
    began = time.monotonic()
    procs = [
        _publisher(port, user, password, ds, path)
        for (user, password, ds), path in zip(creds, files, strict=True)
    ]
    samples = [(began, 0)]
    while time.monotonic() - began < timeout_s:
        time.sleep(0.5)  # a count is a scan of what is stored: sampled twice a second
        samples.append((time.monotonic(), _count(url) - before))
        if samples[-1][1] >= total and all(p.poll() is not None for p in procs):
            break
    failed = [p.communicate()[1].decode()[-200:] for p in procs if p.wait(30) != 0]
    spent = meter.stop()
    stored = samples[-1][1]
    last = next(t for t, n in samples if n >= stored)  # from the first publish to the last row
    windows = [(n2 - n1) / (t2 - t1)
               for (t1, n1), (t2, n2) in zip(samples, samples[2:], strict=False)]  # fmt: skip
    return {"sent": total, "publishers_failed": len(failed), "errors": failed[:3],
            "stored": stored, "lost": total - stored if not failed else None,
            "stored_per_s": stored / max(last - began, 1e-9),
            "peak_1s_per_s": max(windows, default=0.0),
            "publish_s": max(t for t, _ in samples) - began,
            "cpu_us_per_reading": {k: v * 1e6 / max(stored, 1)
                                   for k, v in spent.items()}}  # fmt: skip


def alarm_latency(
    base: str, token: str, port: int, gauges: list[tuple[str, str, int]]
) -> list[float]:
    """Seconds from the triggering reading's publish to its case in the subscription."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    host = base.removeprefix("http://")
    seconds = []
    with connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                 open_timeout=10) as ws:  # fmt: skip
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": f"Bearer {token}"}}))  # fmt: skip
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": CASE_EVENTS}}))
        time.sleep(0.5)
        for user, password, ds in gauges:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gauge-{ds}")
            client.username_pw_set(user, password)
            client.connect("127.0.0.1", port)
            client.loop_start()
            now = datetime.now(UTC)
            for back in (120, 60):  # over the line, not yet long enough
                at = (now - timedelta(seconds=back)).isoformat()
                client.publish(TOPIC.format(ds), json.dumps({"phenomenonTime": at, "result": 2.5}),
                               qos=1).wait_for_publish(5)  # fmt: skip
            time.sleep(0.3)
            while True:  # what the first two readings sent, if anything
                try:
                    ws.recv(timeout=0.05)
                except TimeoutError:
                    break
            began = time.perf_counter()
            client.publish(TOPIC.format(ds), json.dumps({"phenomenonTime": now.isoformat(),
                                                         "result": 2.5}), qos=1)  # fmt: skip
            message = json.loads(ws.recv(timeout=10))
            seconds.append(time.perf_counter() - began)
            assert message["type"] == "next", message
            client.disconnect()
            client.loop_stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--readings", type=int, default=4000, help="per device")
    parser.add_argument("--batch", type=int, default=5000, help="ONEMAP_MQTT_BATCH_SIZE")
    parser.add_argument("--republish-qos", type=int, default=1, choices=(0, 1))
    parser.add_argument("--alarms", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from geo import migrate
    from geo.access import Capability, system
    from geo.services import sensors
    from seed.load import seed
    from server.kernel.auth.keys import load_keys
    from server.kernel.auth.tokens import TokenService
    from server.kernel.settings import AuthSettings
    from tests.conftest import create_database, database_roles, drop_database, sqlalchemy_url
    from tests.mqtt_helpers import private_broker, run_async
    from tests.running_server import running_server
    from tests.sta_helpers import station

    url = create_database("onemap_bench_sensors")
    out: dict[str, Any] = {"args": vars(args) | {"out": str(args.out)}}
    try:
        migrate.upgrade(sqlalchemy_url(url), roles=database_roles())
        with psycopg.connect(url, autocommit=True) as conn:
            seed(conn, 0.05)
        admin = system(Capability.MANAGE_SENSORS)

        def make(name: str, line: float | None = None) -> tuple[int, int]:
            body = station(name)
            if line is not None:
                body["Datastreams"][0]["properties"] = {"warningLine": line}
            thing = run_async(url, lambda c: sensors.create(c, admin, "Things", body))
            with psycopg.connect(url) as conn:
                row = conn.execute("SELECT id FROM sta_datastreams WHERE thing_id = %s",
                                   (thing,)).fetchone()  # fmt: skip
            assert row is not None
            return int(thing), int(row[0])

        devices = [make(f"bench device {i}") for i in range(args.devices)]
        gauges = [make(f"bench gauge {i}", 2.0) for i in range(args.alarms)]
        streams = [ds for _t, ds in devices]
        out["copy_ceiling_per_s"] = copy_ceiling(url, streams, args.readings)
        with tempfile.TemporaryDirectory() as tmp, private_broker(Path(tmp), url) as broker:
            creds = [(*broker.device(t), ds) for t, ds in devices]
            alarm_creds = [(*broker.device(t), ds) for t, ds in gauges]
            s = broker.settings
            env = {"ONEMAP_MQTT_ENABLED": "true", "ONEMAP_MQTT_PORT": str(s.port),
                   "ONEMAP_MQTT_DEVICE_PORT": str(s.device_port),
                   "ONEMAP_MQTT_USERNAME": s.username,
                   "ONEMAP_MQTT_PASSWORD": s.password.get_secret_value() if s.password else "",
                   "ONEMAP_MQTT_BATCH_SIZE": str(args.batch),
                   "ONEMAP_MQTT_REPUBLISH_QOS": str(args.republish_qos),
                   "ONEMAP_DATABASE_POOL_MAX_SIZE": "16", "ONEMAP_OGC_POOL_SIZE": "4"}  # fmt: skip
            with running_server(url, **env) as base:
                time.sleep(2)  # the lead takes the ingest
                assert broker.process is not None
                meter = cpu.Meter(
                    cpu.children_of(os.getpid()),
                    broker.process.pid,
                    conninfo_to_dict(url)["dbname"],
                )
                out["ingest"] = ingest(url, s.device_port, creds, args.readings, Path(tmp),
                                       timeout_s=300, meter=meter)  # fmt: skip
                keys = load_keys(AuthSettings(), ROOT / ".data" / "test")
                with psycopg.connect(url) as conn:
                    row = conn.execute(
                        "SELECT id FROM users WHERE 'dispatcher' = ANY(roles) "
                        "AND jurisdiction_scope = 'city' ORDER BY id LIMIT 1"
                    ).fetchone()
                assert row is not None
                token = TokenService(keys, AuthSettings()).issue_access(int(row[0]), ["dispatcher"])
                out["alarm_s"] = alarm_latency(base, token, s.device_port, alarm_creds)
                port = int(base.rsplit(":", 1)[1])
                order = "$top=100&$orderby=phenomenonTime%20desc"
                requests = [Request("GET", f"/sta/v1.1/Datastreams({ds})/Observations?{order}")
                            for ds in streams]  # fmt: skip
                out["read"] = loadgen.wrk(port, requests, args.seconds, 16, Path(tmp))
    finally:
        drop_database(url)
    report(out, args.out)


def report(out: dict[str, Any], path: Path | None) -> None:
    i, a = out["ingest"], sorted(out["alarm_s"])
    p99 = a[min(len(a) - 1, round(0.99 * (len(a) - 1)))] if a else float("nan")
    text = "\n".join([
        f"# Sensors benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"Command: `python -m bench.sensors.run {' '.join(_argv(out['args']))}`  ",
        "2-core machine; server (one process), PostgreSQL, Mosquitto and the publishers share it.",
        "", "| figure | value |", "|---|---:|",
        f"| MQTT ingest, sustained (stored/s, QoS 1, {out['args']['devices']} devices) "
        f"| {i['stored_per_s']:,.0f} |",
        f"| MQTT ingest, best 1 s | {i['peak_1s_per_s']:,.0f} |",
        f"| raw COPY ceiling (rows/s, same rows, one transaction) "
        f"| {out['copy_ceiling_per_s']:,.0f} |",
        f"| ingest ÷ COPY ceiling | {i['stored_per_s'] / out['copy_ceiling_per_s']:.2f} |",
        f"| readings sent / stored / lost | {i['sent']:,} / {i['stored']:,} / {i['lost']} |",
        *_cpu_rows(i["cpu_us_per_reading"]),
        f"| alarm reading → case event in the subscription, p50 / p99 (n = {len(a)}) "
        f"| {statistics.median(a) * 1000:.0f} ms / {p99 * 1000:.0f} ms |",
        f"| `Datastreams(id)/Observations?$top=100&$orderby=phenomenonTime desc` req/s "
        f"(p50, p99) | {out['read']['rps']:,.0f} ({out['read']['p50']:.1f} ms, "
        f"{out['read']['p99']:.1f} ms; {out['read']['errors']} errors) |",
    ]) + "\n"  # fmt: skip
    print(text)
    print(json.dumps(out, default=str))
    if path is not None:
        path.write_text(text)


def _cpu_rows(us: dict[str, float]) -> list[str]:
    """CPU per stored reading by part, and the rate the machine's cores would allow if the
    parts shared them perfectly (cores ÷ total CPU per reading)."""
    total = sum(us.values())
    cores = os.cpu_count() or 1
    parts = ", ".join(f"{k} {v:.0f}" for k, v in us.items())
    return [f"| CPU per stored reading, µs ({parts}) | {total:.0f} |",
            f"| rate the {cores} cores allow at that cost (cores ÷ CPU per reading) "
            f"| {cores * 1e6 / max(total, 1e-9):,.0f}/s |"]  # fmt: skip


def _argv(args: dict[str, Any]) -> list[str]:
    return [f"--{k.replace('_', '-')} {v}" for k, v in args.items() if v not in (None, "None")]


if __name__ == "__main__":
    main()
