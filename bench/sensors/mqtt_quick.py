"""A quick MQTT ingest measurement (issue 15; the full benchmark, item 8, comes later):
``devices`` simulated devices publish QoS 1 readings as fast as their broker allows for
``seconds`` through a private Mosquitto; the server's ingest (MqttBridge, one process) stores
them. Prints observations stored per second, and checks that every acknowledged one is there.

    python -m bench.sensors.mqtt_quick [--devices 50] [--seconds 10] [--publishers 2]

Needs ONEMAP_DATABASE_URL (a server to make a scratch database on: dropped afterwards).
Publishers run in processes of their own so that they do not share the server's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

TOPIC = "v1.1/Datastreams({})/Observations"


def publish(port: int, devices: list[list[Any]], seconds: float) -> None:
    """One publisher process: its devices publish round-robin until ``seconds`` pass; prints
    how many readings the broker acknowledged."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    clients, acked = [], [0]
    for user, password, _ds in devices:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{user}", clean_session=True)
        c.username_pw_set(user, password)
        c.max_inflight_messages_set(200)
        c.on_publish = lambda *_: acked.__setitem__(0, acked[0] + 1)
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients.append(c)
    time.sleep(0.5)
    start, sent = datetime.now(UTC) - timedelta(days=1), 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for c, (_u, _p, ds) in zip(clients, devices, strict=True):
            at = (start + timedelta(microseconds=sent)).isoformat()
            c.publish(TOPIC.format(ds), f'{{"result":{sent % 97},"phenomenonTime":"{at}"}}', qos=1)
            sent += 1
        if sent % 2000 < len(devices):
            while sent - acked[0] > 4000 and time.monotonic() < end + 30:
                time.sleep(0.002)  # keep at most a few thousand unacknowledged
    deadline = time.monotonic() + 60
    while acked[0] < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    for c in clients:
        c.disconnect()
        c.loop_stop()
    print(json.dumps({"sent": sent, "acked": acked[0]}))


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM sta_observations").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2000, help="ONEMAP_MQTT_BATCH_SIZE")
    parser.add_argument("--republish-qos", type=int, default=1, choices=(0, 1))
    args = parser.parse_args()

    from geo import migrate
    from geo.access import Capability, system
    from geo.services import sensors
    from tests.conftest import (
        create_database,
        database_roles,
        drop_database,
        settings_for,
        sqlalchemy_url,
    )
    from tests.mqtt_helpers import Ingest, private_broker, run_async
    from tests.sta_helpers import station

    url = create_database("onemap_bench")
    try:
        migrate.upgrade(sqlalchemy_url(url), roles=database_roles())
        admin = system(Capability.MANAGE_SENSORS)
        things = [run_async(url, lambda c, i=i: sensors.create(c, admin, "Things",
                                                               station(f"bench {i}")))
                  for i in range(args.devices)]  # fmt: skip
        with psycopg.connect(url) as conn:
            streams = dict(conn.execute("SELECT thing_id, id FROM sta_datastreams").fetchall())
        with tempfile.TemporaryDirectory() as tmp, private_broker(Path(tmp), url) as broker:
            creds = [[*broker.device(t), streams[t]] for t in things]
            tuned = broker.settings.model_copy(
                update={"batch_size": args.batch, "republish_qos": args.republish_qos}
            )
            ingest = Ingest(settings_for(url), tuned)
            ingest.start()
            share = [creds[i :: args.publishers] for i in range(args.publishers)]
            procs = [subprocess.Popen([sys.executable, "-m", "bench.sensors.mqtt_quick",
                                       "--publish", json.dumps([broker.settings.device_port,
                                                                part, args.seconds])],
                                      stdout=subprocess.PIPE, text=True)
                     for part in share]  # fmt: skip
            samples = [(time.monotonic(), _count(url))]
            while any(p.poll() is None for p in procs):
                time.sleep(0.5)
                samples.append((time.monotonic(), _count(url)))
            results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
            acked = sum(r["acked"] for r in results)
            deadline = time.monotonic() + 120
            while samples[-1][1] < acked and time.monotonic() < deadline:
                time.sleep(0.2)
                samples.append((time.monotonic(), _count(url)))
            ingest.kill()
        first = next(t for t, n in samples if n > 0)
        last = next(t for t, n in samples if n >= samples[-1][1])
        rates = [round((n2 - n1) / (t2 - t1)) for (t1, n1), (t2, n2) in itertools.pairwise(samples)]
        print(json.dumps({"devices": args.devices, "batch": args.batch,
                          "republish_qos": args.republish_qos,
                          "sent": sum(r["sent"] for r in results),
                          "acked": acked, "stored": samples[-1][1],
                          "lost": acked - samples[-1][1],
                          "stored_per_s": round(samples[-1][1] / (last - first)),
                          "rates": rates}))  # fmt: skip
    finally:
        drop_database(url)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--publish":
        port, devices, seconds = json.loads(sys.argv[2])
        publish(port, devices, seconds)
    else:
        asyncio.run(asyncio.sleep(0))
        main()
