"""Least-privilege database roles (docs/deploy.md): the server logs in as ``onemap_app``, which
reads and writes rows but owns nothing, so it can neither truncate nor rewrite the append-only
history, switch its triggers off, nor create or alter anything; ``onemap_owner`` owns it all.

What the app role *may* do is proved by the rest of the suite, which runs the app on it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError
from starlette.testclient import TestClient

from geo import migrate
from geo.migrate import DatabaseRoles
from server.kernel.db import make_pool
from server.kernel.provision import admin_url, ensure_roles, roles_sql, scram_verifier
from server.kernel.settings import DatabaseSettings
from tests.conftest import ROOT, database_roles, sqlalchemy_url

pytestmark = pytest.mark.anyio

ROLES = database_roles()
#: The append-only tables of migrations 0001 and 0002 (later ones may add more).
APPEND_ONLY = (
    "case_events", "audit_log", "application_events", "health_status_changes",
    "health_verifications",
)  # fmt: skip
INSUFFICIENT_PRIVILEGE = "42501"
ONEMAP = str(Path(sys.executable).with_name("onemap"))


@pytest.fixture
async def app_conn(client: TestClient) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection from a pool made as the app makes its own, from the app's settings."""
    pool = make_pool(client.app.state.settings.database)  # type: ignore[attr-defined]
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            yield conn
    finally:
        await pool.close()


async def _sqlstate(conn: AsyncConnection[Any], statement: str) -> str | None:
    """The SQLSTATE ``statement`` fails with (None when it succeeds), in a transaction that is
    rolled back either way (ALTER SYSTEM refuses transactions: it runs on its own)."""
    try:
        if statement.startswith("ALTER SYSTEM"):
            await conn.execute(statement)  # type: ignore[arg-type]
            return None
        async with conn.transaction(force_rollback=True):
            await conn.execute(statement)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


def test_every_pool_of_the_app_logs_in_as_the_app_role(client: TestClient) -> None:
    state = client.app.state  # type: ignore[attr-defined]
    for pool in (state.pool, state.ogc.pool, state.ogc.sync_pool):
        assert conninfo_to_dict(pool.conninfo)["user"] == ROLES.app
    # Nothing in the server holds the owner's login.
    assert conninfo_to_dict(state.settings.database.libpq_url)["user"] == ROLES.app


async def test_the_app_role_is_no_superuser_and_owns_nothing(
    app_conn: AsyncConnection[Any],
) -> None:
    cur = await app_conn.execute(
        "SELECT current_user, session_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, "
        "r.rolbypassrls, r.rolreplication, "
        "(SELECT count(*) FROM pg_class WHERE relowner = r.oid), "
        "(SELECT count(*) FROM pg_proc WHERE proowner = r.oid), "
        "(SELECT count(*) FROM pg_auth_members WHERE member = r.oid) "
        "FROM pg_roles r WHERE r.rolname = current_user"
    )
    assert await cur.fetchone() == (ROLES.app, ROLES.app, False, False, False, False, False,
                                    0, 0, 0)  # fmt: skip


@pytest.mark.parametrize("table", ["audit_log", "case_events"])
@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE {t}",
        "TRUNCATE {t} CASCADE",
        "UPDATE {t} SET id = id WHERE false",
        "DELETE FROM {t} WHERE false",
        "LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE",
        "ALTER TABLE {t} DISABLE TRIGGER ALL",
        "ALTER TABLE {t} DISABLE TRIGGER {t}_append_only",
        "DROP TRIGGER {t}_append_only ON {t}",
        "ALTER TABLE {t} OWNER TO CURRENT_USER",
        "DROP TABLE {t}",
        "COPY {t} FROM PROGRAM 'true'",
    ],
)
async def test_the_append_only_history_cannot_be_rewritten(
    app_conn: AsyncConnection[Any], table: str, statement: str
) -> None:
    assert await _sqlstate(app_conn, statement.format(t=table)) == INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize(
    "statement",
    [
        "SET session_replication_role = replica",
        "SET LOCAL session_replication_role = replica",
        "CREATE TABLE onemap_probe (i int)",
        "CREATE VIEW onemap_probe AS SELECT 1",
        "CREATE SCHEMA onemap_probe",
        "CREATE OR REPLACE FUNCTION onemap_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$",
        "ALTER FUNCTION onemap_append_only() OWNER TO CURRENT_USER",
        "TRUNCATE cases",
        "ALTER TABLE cases DISABLE TRIGGER ALL",
        "UPDATE alembic_version SET version_num = version_num",
        "DELETE FROM alembic_version",
        f"SET ROLE {ROLES.owner}",
        "ALTER SYSTEM SET log_statement = 'none'",
        "SELECT pg_read_file('/etc/hostname')",
    ],
)
async def test_the_app_role_cannot_change_the_schema_or_escape(
    app_conn: AsyncConnection[Any], statement: str
) -> None:
    assert await _sqlstate(app_conn, statement) == INSUFFICIENT_PRIVILEGE


async def test_the_app_role_does_its_work(app_conn: AsyncConnection[Any]) -> None:
    """Reads, ordinary writes, appends and the readiness probe's read (the suite does more)."""
    for statement in (
        "SELECT version_num FROM alembic_version",
        "SELECT count(*) FROM cases_public",
        "UPDATE cases SET priority = priority WHERE false",
        "DELETE FROM report_links WHERE false",
        "INSERT INTO audit_log (action, object_type, object_id) VALUES ('probe', 'probe', '1')",
        "CREATE TEMP TABLE probe (i int)",  # PUBLIC's TEMP on the database; gone at rollback
    ):
        assert await _sqlstate(app_conn, statement) is None, statement


def _privileges(db: psycopg.Connection[Any]) -> dict[str, tuple[str, str, set[str]]]:
    """Every relation of the schema (not PostGIS's): its kind, owner and the app's rights."""
    rows = db.execute(
        """
        SELECT c.relname, c.relkind::text, pg_get_userbyid(c.relowner),
               ARRAY(SELECT p FROM unnest(CASE WHEN c.relkind = 'S'
                                          THEN ARRAY['USAGE', 'SELECT', 'UPDATE']
                                          ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE',
                                                     'TRUNCATE', 'REFERENCES', 'TRIGGER']
                                          END) p
                     WHERE CASE WHEN c.relkind = 'S'
                                THEN has_sequence_privilege(%(app)s, c.oid, p)
                                ELSE has_table_privilege(%(app)s, c.oid, p) END)
        FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
        """,
        {"app": ROLES.app},
    ).fetchall()
    return {name: (kind, owner, set(rights)) for name, kind, owner, rights in rows}


def _append_only(db: psycopg.Connection[Any]) -> set[str]:
    rows = db.execute(
        "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
        "WHERE tgfoid = 'onemap_append_only'::regproc"
    ).fetchall()
    return {r[0] for r in rows}


def test_the_owner_owns_everything_and_the_app_has_only_row_rights(
    db: psycopg.Connection[Any],
) -> None:
    """The catalogue, table by table: it also holds later migrations to the rule (a new
    append-only table must revoke UPDATE and DELETE; a new view must grant SELECT only)."""
    append_only = _append_only(db)
    assert set(APPEND_ONLY) <= append_only
    # Written only by the owner's history triggers (docs/history.md): the app reads them.
    read_only = {"history_tables"} | {
        r[0].removeprefix("public.") for r in db.execute("SELECT history_table FROM history_tables")
    }
    assert {"facilities_history", "buildings_history"} <= read_only
    found = _privileges(db)
    assert {"cases", "audit_log", "alembic_version", "cases_public"} <= set(found)
    wrong = {}
    for name, (kind, owner, rights) in found.items():
        if kind == "S":
            want = {"USAGE", "SELECT"}
        elif kind in ("v", "m") or name == "alembic_version" or name in read_only:
            want = {"SELECT"}
        elif name in append_only:
            want = {"SELECT", "INSERT"}
        else:
            want = {"SELECT", "INSERT", "UPDATE", "DELETE"}
        if owner != ROLES.owner or rights != want:
            wrong[name] = (owner, sorted(rights), sorted(want))
    assert wrong == {}
    functions = db.execute(
        "SELECT p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p "
        "WHERE p.pronamespace = current_schema()::regnamespace AND NOT EXISTS ("
        "  SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid"
        "  AND d.deptype = 'e')"
    ).fetchall()
    assert {"onemap_append_only", "onemap_case_areas"} <= {f[0] for f in functions}
    assert {f[0] for f in functions if f[1] != ROLES.owner} == set()
    schema_rights = db.execute(
        "SELECT has_schema_privilege(%(app)s, current_schema(), 'CREATE'), "
        "has_database_privilege(%(app)s, current_database(), 'CREATE'), "
        "has_schema_privilege(%(app)s, current_schema(), 'USAGE')",
        {"app": ROLES.app},
    ).fetchone()
    assert schema_rights == (False, False, True)


def test_what_the_owner_creates_later_is_granted_the_same(db: psycopg.Connection[Any]) -> None:
    """ALTER DEFAULT PRIVILEGES: a later migration's table gets the row rights (and no more)."""
    db.execute(f'SET ROLE "{ROLES.owner}"')
    db.execute("CREATE TABLE onemap_later (id int GENERATED BY DEFAULT AS IDENTITY, t text)")
    db.execute("CREATE SEQUENCE onemap_later_numbers")
    db.execute("RESET ROLE")
    found = _privileges(db)
    assert found["onemap_later"] == ("r", ROLES.owner, {"SELECT", "INSERT", "UPDATE", "DELETE"})
    assert found["onemap_later_numbers"] == ("S", ROLES.owner, {"USAGE", "SELECT"})


def _role(db: psycopg.Connection[Any], name: str) -> tuple[Any, ...]:
    """Its login, superuser, createrole, createdb, bypassrls flags; is the admin a member?"""
    row = db.execute(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
        "EXISTS (SELECT FROM pg_auth_members m WHERE m.roleid = r.oid "
        "        AND m.member = (SELECT oid FROM pg_roles WHERE rolname = session_user)) "
        "FROM pg_roles r WHERE rolname = %s",
        (name,),
    ).fetchone()
    assert row is not None, name
    return tuple(row)


def test_ensure_roles_is_idempotent_and_safe_when_callers_race(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    password = DatabaseSettings().app_login_password()
    # Two databases, so that the advisory lock does not line the callers up: they do race.
    urls = [database_url, admin_url(database_url)] * 4
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda url: ensure_roles(url, password, ROLES), urls))
    ensure_roles(database_url, password, ROLES)
    assert _role(db, ROLES.owner) == (False, False, False, False, False, True)
    assert _role(db, ROLES.app)[:5] == (True, False, False, False, False)
    # Roles made from nothing, concurrently (names of this test only; dropped after).
    fresh = DatabaseRoles(owner=f"onemap_probe_owner_{os.getpid()}",
                          app=f"onemap_probe_app_{os.getpid()}")  # fmt: skip
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda url: ensure_roles(url, "pw-probe", fresh), urls))
        assert _role(db, fresh.owner) == (False, False, False, False, False, True)
        assert _role(db, fresh.app)[:5] == (True, False, False, False, False)
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{fresh.app}", "{fresh.owner}"')


def test_a_superuser_app_role_is_refused(database_url: str) -> None:
    from server.kernel.provision import ProvisionError

    bad = DatabaseRoles(owner=f"onemap_probe_o_{os.getpid()}", app=f"onemap_probe_a_{os.getpid()}")
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{bad.app}" LOGIN SUPERUSER')
        try:
            with pytest.raises(ProvisionError, match="SUPERUSER"):
                ensure_roles(database_url, None, bad)
        finally:
            admin.execute(f'DROP ROLE IF EXISTS "{bad.app}", "{bad.owner}"')


def _onemap(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [ONEMAP, *args], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
        check=False,
    )  # fmt: skip


def test_db_provision_and_db_roles_are_idempotent(database_url: str) -> None:
    for _ in range(2):
        done = _onemap("db", "provision", database_url=database_url)
        assert done.returncode == 0, done.stderr
        assert "database ready" in done.stderr
        done = _onemap("db", "roles", database_url=database_url)
        assert done.returncode == 0, done.stderr
        assert f"roles ready: {ROLES.owner}, {ROLES.app}" in done.stderr


def test_db_roles_prints_sql_a_dba_can_run(database_url: str) -> None:
    done = _onemap("db", "roles", "--print-sql", database_url=database_url)
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert f'CREATE ROLE "{ROLES.owner}" NOLOGIN' in script
    assert "PASSWORD 'SCRAM-SHA-256$4096:" in script
    password = os.environ["ONEMAP_DATABASE_APP_PASSWORD"]
    assert password not in script
    # It runs (again: idempotent) and leaves the same roles.
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(script)  # type: ignore[arg-type]
        assert _role(admin, ROLES.owner) == (False, False, False, False, False, True)


@pytest.mark.parametrize("command", [["db", "roles"], ["db", "provision"], ["migrate"]])
def test_help_names_the_roles(command: list[str]) -> None:
    done = _onemap(*command, "--help", database_url="postgresql://unused@127.0.0.1:1/x")
    assert done.returncode == 0
    assert "role" in done.stdout


def test_the_scram_verifier_is_libpqs(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        made = conn.pgconn.encrypt_password(b"s3cret-pw", b"onemap_app", b"scram-sha-256")
    text = made.decode()
    iterations, salt = text.removeprefix("SCRAM-SHA-256$").split("$")[0].split(":")
    assert scram_verifier("s3cret-pw", int(iterations), base64.b64decode(salt)) == text


def test_migrations_hand_everything_over_and_back(empty_database_url: str) -> None:
    url = sqlalchemy_url(empty_database_url)
    owners = (
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'v') "
        "AND relname NOT IN ('spatial_ref_sys', 'geometry_columns', 'geography_columns')"
    )
    app_acl = "SELECT count(*) FROM pg_class WHERE relacl::text LIKE %s"
    migrate.upgrade(url, "0004", ROLES)
    admin = conninfo_to_dict(empty_database_url)["user"]
    with psycopg.connect(empty_database_url) as db:
        assert {r[0] for r in db.execute(owners)} == {admin}
    migrate.upgrade(url, "head", ROLES)
    with psycopg.connect(empty_database_url) as db:
        assert {r[0] for r in db.execute(owners)} == {ROLES.owner}
        assert db.execute(app_acl, (f"%{ROLES.app}=%",)).fetchone() != (0,)
    migrate.downgrade(url, "0004", ROLES)
    with psycopg.connect(empty_database_url) as db:
        assert {r[0] for r in db.execute(owners)} == {admin}
        assert db.execute(app_acl, (f"%{ROLES.app}=%",)).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM pg_default_acl").fetchone() == (0,)
    migrate.upgrade(url, "head", ROLES)
    assert migrate.current_revision(url) == migrate.head_revision()


def test_migrating_without_the_roles_says_what_to_run(empty_database_url: str) -> None:
    missing = DatabaseRoles(owner="onemap_no_such_owner", app="onemap_no_such_app")
    with pytest.raises(RuntimeError, match="onemap db provision"):
        migrate.upgrade(sqlalchemy_url(empty_database_url), "head", missing)


def test_the_app_url_is_derived_from_the_admin_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONEMAP_DATABASE_APP_PASSWORD", raising=False)
    monkeypatch.delenv("ONEMAP_DATABASE_APP_URL", raising=False)
    secret = tmp_path / "secrets" / "db-app-password"
    settings = DatabaseSettings(
        url="postgresql://admin:hush@db.example:6543/city?sslmode=require",
        app_password_file=secret,
    )
    derived = conninfo_to_dict(settings.app_libpq_url)
    password = secret.read_text().strip()
    assert derived == {"user": "onemap_app", "password": password, "host": "db.example",
                       "port": "6543", "dbname": "city", "sslmode": "require"}  # fmt: skip
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(password) >= 32
    assert settings.app_libpq_url == settings.app_libpq_url  # generated once, then read
    # The server's copy: the owner's login is gone.
    server = settings.for_server()
    assert server.libpq_url == server.app_libpq_url == settings.app_libpq_url
    # A given password, or a whole URL, wins.
    given = DatabaseSettings(url=settings.url, app_password="pw", app_password_file=secret)  # noqa: S106
    assert conninfo_to_dict(given.app_libpq_url)["password"] == "pw"  # noqa: S105
    url = "postgresql://onemap_app:p%40ss@pooler:6432/city"
    explicit = DatabaseSettings(url=settings.url, app_url=url)
    assert explicit.app_libpq_url == url
    assert explicit.app_login_password() == "p@ss"
    other = DatabaseSettings(url=settings.url, app_url="postgresql://svc:x@pooler/city")
    assert other.app_login_password() is None  # another login: not ours to set


@pytest.mark.parametrize(
    "fields",
    [{"app_role": "Robert'); DROP"}, {"owner_role": "x" * 64}, {"app_role": "onemap_owner"},
     {"app_url": "mysql://x@y/z"}],
)  # fmt: skip
def test_bad_role_settings_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        DatabaseSettings(**fields)  # type: ignore[arg-type]


def test_roles_sql_quotes_what_it_is_given() -> None:
    script = roles_sql("ad\"min'", "pw", ROLES)
    assert "'ad\"min'''" in script
    assert "pw'" not in script
