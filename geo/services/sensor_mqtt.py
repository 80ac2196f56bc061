"""The MQTT side of the sensor registry: broker accounts (a device's per Thing, a reader's),
the topics each may use, the Observations to republish to subscribers, the one-process lead
of the ingest, and the retention of old Observations.

Passwords are shown once and kept only as Mosquitto's own ``$7$`` hash (PBKDF2-SHA512, what
``mosquitto_passwd`` writes), so the broker's password_file is written from the database
without the server ever knowing a device's password again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from geo.access import Capability, Principal, require
from geo.errors import InvalidInput, NotFound
from geo.queries.sensors_schema import ENTITY_SETS

#: PBKDF2 rounds of a new hash (Mosquitto's own default is 101; it reads any count).
ITERATIONS = 10_000
#: The topic of a Datastream's Observations (the SensorThings MQTT extension).
TOPIC = "v1.1/Datastreams({})/Observations"
#: Where a device hears why a reading of its was refused (under the devices' mount point: a
#: device subscribes to ``errors/thing-<id>`` on its listener; nobody else may read it).
ERRORS = "errors/{}"
#: pg_try_advisory_lock key of the sensor lead (the MQTT ingest, the retention sweep).
LEAD_KEY = 0x0E3A_5E45_0A11
READERS = ("public", "internal")


def mosquitto_hash(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_check(password: str, hashed: str) -> bool:
    _, kind, rounds, salt, digest = hashed.split("$")
    found = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(rounds))
    return kind == "7" and secrets.compare_digest(base64.b64encode(found).decode(), digest)


def device_username(thing_id: int) -> str:
    return f"thing-{thing_id}"


async def issue_device(
    conn: AsyncConnection[Any], principal: Principal, thing_id: int
) -> tuple[str, str]:
    """A Thing's broker account, made or given a new password (the old one stops working at
    the broker's next reload): (username, password), the password shown this once."""
    require(principal, Capability.MANAGE_SENSORS)
    cur = await conn.execute("SELECT 1 FROM sta_things WHERE id = %(id)s", {"id": thing_id})
    if await cur.fetchone() is None:
        raise NotFound(f"There is no Thing with @iot.id {thing_id}.")
    username, password = device_username(thing_id), secrets.token_urlsafe(24)
    await conn.execute(
        "INSERT INTO sta_mqtt_accounts (username, password_hash, thing_id) "
        "VALUES (%(u)s, %(h)s, %(t)s) ON CONFLICT (thing_id) DO UPDATE SET "
        "password_hash = excluded.password_hash, rotated_at = now()",
        {"u": username, "h": mosquitto_hash(password), "t": thing_id},
    )
    return username, password


async def issue_reader(
    conn: AsyncConnection[Any], principal: Principal, username: str, reader: str
) -> str:
    """A subscriber's account (a dashboard, a partner): ``public`` reads the Observations of
    non-critical Datastreams, ``internal`` all of them. Its new password, shown this once."""
    require(principal, Capability.MANAGE_SENSORS)
    if reader not in READERS:
        raise InvalidInput(f"A reader is one of {', '.join(READERS)}.")
    if not username or username.startswith("thing-") or ":" in username:
        raise InvalidInput("A reader's username is not empty, has no ':' nor 'thing-' prefix.")
    password = secrets.token_urlsafe(24)
    cur = await conn.execute(
        "INSERT INTO sta_mqtt_accounts (username, password_hash, reader) "
        "VALUES (%(u)s, %(h)s, %(r)s) ON CONFLICT (username) DO UPDATE SET "
        "password_hash = excluded.password_hash, reader = excluded.reader, rotated_at = now() "
        "WHERE sta_mqtt_accounts.thing_id IS NULL RETURNING id",
        {"u": username, "h": mosquitto_hash(password), "r": reader},
    )
    if await cur.fetchone() is None:
        raise InvalidInput(f"{username!r} is a device's account.")
    return password


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    username: str
    password_hash: str
    write: tuple[str, ...]  # topics it may publish to
    read: tuple[str, ...]  # topics it may subscribe to


async def broker_accounts(conn: AsyncConnection[Any], device_prefix: str) -> list[BrokerAccount]:
    """Every account with its topics, in a stable order (the files change only when these do):
    a device writes its Datastreams' topics under the devices' mount point and reads only its
    own error topic there."""
    cur = await conn.execute(
        "SELECT a.username, a.password_hash, a.thing_id, a.reader, "
        "coalesce(array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}') "
        "FROM sta_mqtt_accounts a LEFT JOIN sta_datastreams d ON d.thing_id = a.thing_id "
        "GROUP BY a.id ORDER BY a.username"
    )
    rows = await cur.fetchall()
    public: tuple[str, ...] = ()
    if any(r[3] == "public" for r in rows):
        cur = await conn.execute(
            "SELECT d.id FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id "
            "WHERE NOT t.critical ORDER BY d.id"
        )
        public = tuple(TOPIC.format(r[0]) for r in await cur.fetchall())
    out = []
    for username, hashed, thing_id, reader, streams in rows:
        if thing_id is not None:
            write = tuple(device_prefix + TOPIC.format(d) for d in streams)
            errors = (device_prefix + ERRORS.format(username),)
            out.append(BrokerAccount(username, hashed, write, errors))
        else:
            out.append(BrokerAccount(username, hashed, (),
                                     public if reader == "public" else ("v1.1/#",)))  # fmt: skip
    return out


async def device_accounts(conn: AsyncConnection[Any], datastream_ids: list[int]) -> dict[int, str]:
    """The broker account of each Datastream's Thing (Datastreams without one left out): whom
    to tell that a reading was refused."""
    cur = await conn.execute(
        "SELECT d.id, a.username FROM sta_datastreams d "
        "JOIN sta_mqtt_accounts a ON a.thing_id = d.thing_id WHERE d.id = ANY(%(ids)s)",
        {"ids": datastream_ids},
    )
    return {int(r[0]): str(r[1]) for r in await cur.fetchall()}


_OBSERVATION = ENTITY_SETS["Observations"]
#: Served even when null (server/sta/serialise.py's KEEP_NULL); other nulls are left out.
_KEEP_NULL = ("result", "resultTime")


def _entity_sql() -> str:
    """The Observation entity as the REST API serialises it, built in SQL as JSON text (no
    parse and re-serialise in Python on the 20,000-a-second path); ``%(base)s`` is the
    service root. tests/test_sta_mqtt.py checks it equals the REST answer."""
    props = _OBSERVATION.props
    link = "%(base)s || '/Observations(' || o.id || ')'"
    kept = ", ".join(f"'{n}', {props[n].out.format(a='o')}" for n in _KEEP_NULL)
    optional = ", ".join(f"'{n}', {p.out.format(a='o')}" for n, p in props.items()
                         if n not in _KEEP_NULL)  # fmt: skip
    navs = ", ".join(f"'{n}@iot.navigationLink', {link} || '/{n}'" for n in _OBSERVATION.navs)
    return (f"jsonb_build_object('@iot.id', o.id, '@iot.selfLink', {link}, {kept}, {navs}) "
            f"|| jsonb_strip_nulls(jsonb_build_object({optional}))")  # fmt: skip


# The schema's own expressions (sensors_schema), no value from outside.
_PUBLISHED = (
    "SELECT o.datastream_id, (" + _entity_sql() + ")::text "
    "FROM sta_observations o WHERE o.id = ANY(%(ids)s) ORDER BY o.id"
)


async def observations_to_publish(
    conn: AsyncConnection[Any], ids: list[int], base: str
) -> list[tuple[int, str]]:
    """New Observations as the REST API serves them (JSON text, ``base`` the service root),
    each with its Datastream's id: what subscribers of that Datastream's topic receive."""
    cur = await conn.execute(_PUBLISHED, {"ids": ids, "base": base})
    return [(int(r[0]), str(r[1])) for r in await cur.fetchall()]


async def try_lead(conn: AsyncConnection[Any]) -> bool:
    """Whether this connection now holds the sensor lead (a session lock: held until it
    closes), so exactly one process runs the MQTT ingest and the retention sweep."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%(k)s)", {"k": LEAD_KEY})
    row = await cur.fetchone()
    return bool(row and row[0])


async def retention(
    conn: AsyncConnection[Any], keep_months: int, months_ahead: int
) -> tuple[int, int]:
    """Partitions made ahead and, when ``keep_months`` > 0, whole months older dropped
    (the owner's functions of migration 0018): (made, dropped)."""
    cur = await conn.execute("SELECT sta_ensure_observation_partitions(%(n)s)", {"n": months_ahead})
    made = (await cur.fetchone() or (0,))[0]
    dropped = 0
    if keep_months > 0:
        cur = await conn.execute("SELECT sta_drop_observation_partitions(%(n)s)",
                                 {"n": keep_months})  # fmt: skip
        dropped = (await cur.fetchone() or (0,))[0]
    return int(made), int(dropped)


async def alive(conn: AsyncConnection[Any]) -> None:
    """Raises when the lead's connection (and so its lock) is gone."""
    await conn.execute("SELECT 1")
