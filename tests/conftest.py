"""The test harness: a fresh PostGIS database per session, migrated and seeded once.

The server comes from ``ONEMAP_DATABASE_URL`` (the README's test command provisions one); the
session creates its own database on it, named ``onemap_test_<pid>_…``, and drops it at the end.
Under pytest-xdist (the default, pyproject.toml) every worker is a session of its own: its own
database, its own app; a test file runs whole in one worker.

Two logins, as in production (docs/deploy.md): the URL is the admin's, which migrates and
seeds and which the ``db`` fixture uses to set up data; the app (``client``, ``pool``) logs in
as the app role, with the grants migration 0005 gives it. The roles are the cluster's, made
(idempotently) before the first database of the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo import migrate
from geo.migrate import DatabaseRoles
from seed.load import seed
from server.app import create_app
from server.gql.schema import contract_schema
from server.kernel.auth.tokens import TokenService
from server.kernel.provision import admin_url, ensure_roles, provision
from server.kernel.settings import (
    DatabaseSettings,
    DataSettings,
    MqttSettings,
    OgcSettings,
    SensorSettings,
    Settings,
    SupervisionSettings,
)
from tests.replica_helpers import Replica, ReplicaUnavailable, make_replica, remove_replica
from tests.shared_replica import name_the_run, remove_run_replica

ROOT = Path(__file__).resolve().parent.parent
#: The session's city: 1,000 facilities, 100 cameras, 1,015 cases on the full geography.
TEST_SCALE = 0.05


def _server_url() -> str:
    return os.environ.get("ONEMAP_DATABASE_URL") or provision(ROOT / ".data", None)


def _with_db(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def database_roles() -> DatabaseRoles:
    """The owner and app roles as the settings name them (onemap_owner, onemap_app)."""
    database = DatabaseSettings()
    return DatabaseRoles(owner=database.owner_role, app=database.app_role)


_roles_ready: list[str] = []


def _ensure_roles(server: str) -> None:
    """The cluster's roles, once per test process (a concurrent session may race us: fine)."""
    if server not in _roles_ready:
        password = DatabaseSettings().app_login_password()
        ensure_roles(admin_url(server), password, database_roles())
        _roles_ready.append(server)


def create_database(prefix: str = "onemap_test") -> str:
    """A new, empty database with PostGIS on the test server, whose roles exist; returns its
    libpq URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = _server_url()
    _ensure_roles(server)
    with psycopg.connect(admin_url(server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_db(server, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
        conn.execute("CREATE EXTENSION pg_trgm")
        conn.execute("CREATE EXTENSION pgrouting")  # roads (migration 0024)
    return url


def drop_database(url: str) -> None:
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url(url), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def sqlalchemy_url(url: str) -> str:
    return DatabaseSettings(url=url).sqlalchemy_url


def settings_for(url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=url, pool_min_size=1, pool_max_size=4),
        # small, like the servers the tests start (tests/running_server.py: SMALL_POOLS)
        ogc=OgcSettings(pool_size=4, sync_pool_size=2),
        data=DataSettings(dir=ROOT / ".data" / "test"),
        # No background sweep: the supervision tests sweep at the times they choose.
        supervision=SupervisionSettings(sweep_seconds=0),
        # No MQTT ingest nor retention sweep: the MQTT tests start theirs (tests/mqtt_helpers.py).
        sta=SensorSettings(retention_sweep_hours=0),
        mqtt=MqttSettings(enabled=False),
    )


#: Workers of ``--numprocesses=auto`` at most (``ONEMAP_TEST_WORKERS`` sets it): each worker's
#: app and servers use about 25 connections at peak, and PostgreSQL allows 100 by default.
MAX_WORKERS = 3


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One worker per core, at most MAX_WORKERS (or ONEMAP_TEST_WORKERS)."""
    wanted = os.environ.get("ONEMAP_TEST_WORKERS")
    if wanted:
        return max(1, int(wanted))
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def pytest_configure(config: pytest.Config) -> None:
    """In the run's controller (the only process with ``-n 0``): name the run before any
    worker starts, so the scaled topology's servers share one replica (tests/shared_replica.py)."""
    if not hasattr(config, "workerinput"):
        name_the_run()


def pytest_unconfigure(config: pytest.Config) -> None:
    """In the controller, after every worker ended: the run's replica goes."""
    if not hasattr(config, "workerinput"):
        remove_run_replica()


@pytest.fixture(scope="session", autouse=True)
def _one_app_password() -> Iterator[None]:
    """One app-role password for the session and every process it starts (`onemap migrate`
    sets the role's password, `onemap serve` logs in with it, with other data directories):
    the one the settings give (the data directory's generated one, unless set)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEMAP_DATABASE_APP_PASSWORD", DatabaseSettings().app_login_password() or "")
        yield


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The session's database: migrated to head (objects owned by the owner role, the app
    role granted rows) and seeded at TEST_SCALE, as the admin."""
    url = create_database()
    try:
        migrate.upgrade(sqlalchemy_url(url), roles=database_roles())
        with psycopg.connect(url, autocommit=True) as conn:
            seed(conn, TEST_SCALE)
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def replica(database_url: str) -> Iterator[Replica]:
    """A real streaming replica of the test server, made (pg_basebackup -R) after the session's
    database was seeded, so it carries it; later writes stream to it (tests/replica_helpers.py).
    Made only when a test asks for it: it copies the whole cluster (~13 s for 0.9 GB here)."""
    try:
        made = make_replica(database_url)
    except ReplicaUnavailable as exc:
        # A failure, not a skip: the README's test command arranges replication on the
        # local cluster, so a replica that cannot be made is a fault to see, not to hide.
        pytest.fail(f"no streaming replica of the test server: {exc} (scripts/dev allows "
                    "replication from 127.0.0.1 on the local cluster; docs/scale.md)")  # fmt: skip
    try:
        yield made
    finally:
        remove_replica(made)


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    """A fresh database with PostGIS and nothing else, dropped after the test."""
    url = create_database("onemap_empty")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    """The app built by the factory, lifespan running, through an in-process ASGI client."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside a transaction that is rolled back: tests leave no trace."""
    with psycopg.connect(database_url) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConnection[Any]]:
    """An async connection inside a transaction that is always rolled back: the services' own
    transaction blocks become savepoints, so a test leaves nothing behind."""
    async with (
        await psycopg.AsyncConnection.connect(database_url) as c,
        c.transaction(force_rollback=True),
    ):
        yield c


@pytest.fixture(scope="session")
def tokens(client: TestClient) -> TokenService:
    """The app's own token service: tests mint real ES256 tokens for any user and roles."""
    service = client.app.state.tokens  # type: ignore[attr-defined]
    assert isinstance(service, TokenService)
    return service


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests and fixtures run on asyncio (the app's loop)."""
    return "asyncio"


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The GraphQL schema as the contract exports it."""
    return contract_schema()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[AsyncConnectionPool[AsyncConnection[Any]]]:
    """A small pool on the session's database with UTC sessions, logged in as the app role, as
    the app's pool is."""
    options = {"autocommit": True, "options": "-c timezone=UTC"}
    async with AsyncConnectionPool(
        settings.database.app_libpq_url, min_size=1, max_size=4, open=False, kwargs=options
    ) as p:
        yield p
