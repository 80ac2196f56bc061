"""Finds or makes a PostgreSQL + PostGIS database for OneMap.

Order: the URL given (``ONEMAP_DATABASE_URL``); else the local server on 127.0.0.1:5432 when it
accepts connections; else a private cluster initialised under the data directory on a free port.
The database and the PostGIS extension are created when missing. Installing the PostGIS package
itself is the set-up script's job (``scripts/dev``), since it needs apt.

The two database roles (``onemap_owner``, ``onemap_app``; docs/deploy.md) are cluster-wide, so
they are made here too (:func:`ensure_roles`), before any migration hands objects to them.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import hmac
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geo.migrate import DatabaseRoles, quote_ident

log = logging.getLogger("onemap.provision")

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/onemap"


class ProvisionError(RuntimeError):
    """A one-line reason the database could not be provisioned."""


def provision(
    data_dir: Path,
    url: str | None,
    *,
    roles: DatabaseRoles | None = None,
    app_password: str | None = None,
) -> str:
    """Return a libpq URL of a ready database (PostGIS installed, the roles made), creating
    what is missing. ``app_password``: see :func:`ensure_roles`."""
    if url:
        found = url
    elif _accepts(LOCAL_SERVER.replace("/onemap", "/postgres")):
        found = LOCAL_SERVER
    else:
        port = start_private_cluster(data_dir / "pg")
        found = f"postgresql://postgres@127.0.0.1:{port}/onemap"
    ensure_database(found)
    ensure_roles(found, app_password, roles)
    return found


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
    """Create the database named in ``url`` if missing, and the PostGIS, pg_trgm and pgRouting
    extensions in it."""
    name = conninfo_to_dict(url).get("dbname") or "postgres"
    try:
        with psycopg.connect(admin_url(url), autocommit=True, connect_timeout=5) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
                log.info("created database %s", name)
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # search (migration 0010)
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")  # roads (migration 0026)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "postgis" in reason and "control" in reason:
            reason += " (install the postgresql-<version>-postgis-3 package)"
        if "pgrouting" in reason and "control" in reason:
            reason += " (install the postgresql-<version>-pgrouting package)"
        raise ProvisionError(f"cannot prepare database {name!r}: {reason}") from exc


def _reason(exc: psycopg.Error) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ensure_roles(
    url: str, app_password: str | None = None, roles: DatabaseRoles | None = None
) -> None:
    """Make the owner and app roles when missing, on the server ``url`` names, as its user.

    Cluster-wide and idempotent, and safe when two callers race (the loser's CREATE ROLE fails
    with duplicate_object or a unique violation, and it starts over and finds the role). The
    owner is NOLOGIN; the app role may log in, and gets ``app_password`` when one is given
    (a SCRAM verifier is sent, never the password). The connecting user is made a member of
    the owner (SET and INHERIT), so migrations can ``SET ROLE`` to it and admin commands can
    write its tables. An app role that is a superuser (or may bypass RLS, create roles or
    databases, or replicate) is refused: it would undo the point of having one.
    """
    roles = roles or DatabaseRoles()
    if roles.owner == roles.app:
        raise ProvisionError(f"the owner and app roles must differ (both {roles.owner!r})")
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            for attempt in range(8):
                try:
                    with conn.transaction():
                        _ensure_roles(conn, roles, app_password)
                    return
                except (errors.DuplicateObject, errors.UniqueViolation):
                    continue  # another caller made the role first: look again
                except errors.InternalError_ as exc:
                    # "tuple concurrently updated": two sessions altered the same role at once.
                    if "concurrently" not in str(exc):
                        raise
                    time.sleep(0.05 * (attempt + 1))
            raise ProvisionError("cannot create the database roles: too many concurrent changes")
    except errors.InsufficientPrivilege as exc:
        raise ProvisionError(
            f"cannot create the database roles {roles.owner}, {roles.app}: {_reason(exc)} "
            "(a role with CREATEROLE must run `onemap db roles --print-sql`'s SQL once; "
            "see docs/deploy.md)"
        ) from exc
    except psycopg.Error as exc:
        raise ProvisionError(f"cannot create the database roles: {_reason(exc)}") from exc


def _ensure_roles(
    conn: psycopg.Connection[Any], roles: DatabaseRoles, app_password: str | None
) -> None:
    # Callers on the same database wait for each other; across databases the retry above holds.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('onemap.ensure_roles'))")
    found = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT rolname, rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb "
            "OR rolreplication, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)",
            ([roles.owner, roles.app],),
        )
    }
    owner, app = sql.Identifier(roles.owner), sql.Identifier(roles.app)
    if roles.owner not in found:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
        log.info("created database role %s", roles.owner)
    elif found[roles.owner][1]:
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(owner))
    for name in (roles.owner, roles.app):
        if name in found and found[name][0]:
            raise ProvisionError(
                f"database role {name} exists with SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB "
                f"or REPLICATION: ALTER it to NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB "
                "NOREPLICATION (or drop it) first"
            )
    password: sql.Composable = sql.SQL("")
    if app_password:
        password = sql.SQL(" PASSWORD {}").format(sql.Literal(_stored(app_password)))
    if roles.app not in found:
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS{}"
            ).format(app, password)
        )
        log.info("created database role %s", roles.app)
    elif app_password or not found[roles.app][1]:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("ALTER ROLE {} WITH LOGIN{}").format(app, password))
        except errors.InsufficientPrivilege as exc:
            # Made by a superuser for us (docs/deploy.md): its login is the operator's business.
            log.warning("cannot set the login and password of role %s: %s", roles.app, exc)
    _grant_owner_to_current_user(conn, roles.owner)


def _grant_owner_to_current_user(conn: psycopg.Connection[Any], owner: str) -> None:
    """Membership in the owner, with SET (migrations ``SET ROLE`` to it) and INHERIT (seeding
    and admin commands write its tables); PostgreSQL 16 made these options of a grant."""
    v16 = conn.info.server_version >= 160000
    options = sql.SQL("AND m.inherit_option AND m.set_option" if v16 else "")
    member = conn.execute(
        sql.SQL(
            "SELECT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "WHERE r.rolname = %s AND m.member = (SELECT oid FROM pg_roles "
            "WHERE rolname = current_user) {})"
        ).format(options),
        (owner,),
    ).fetchone()
    if member is None or not member[0]:
        grant = "GRANT {} TO CURRENT_USER" + (" WITH INHERIT TRUE, SET TRUE" if v16 else "")
        conn.execute(sql.SQL(grant).format(sql.Identifier(owner)))


def roles_sql(admin_user: str, app_password: str | None, roles: DatabaseRoles | None = None) -> str:
    """What :func:`ensure_roles` does, as SQL for a DBA to run once per server (a managed
    PostgreSQL where OneMap's admin user may not create roles). Idempotent."""
    roles = roles or DatabaseRoles()
    owner, app = quote_ident(roles.owner), quote_ident(roles.app)
    lines = [
        "-- OneMap's database roles (docs/deploy.md): cluster-wide, run once per server by a",
        "-- role with CREATEROLE. Idempotent. Ownership and grants inside the database are",
        "-- migration 0005's work (`onemap migrate`, run as the admin user below).",
        f"DO $$ BEGIN CREATE ROLE {owner} NOLOGIN;",
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
        f"DO $$ BEGIN CREATE ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
        "NOREPLICATION NOBYPASSRLS;",
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
    ]
    if app_password:
        lines.append(f"ALTER ROLE {app} WITH LOGIN PASSWORD {_literal(_stored(app_password))};")
    else:
        lines.append(f"-- ALTER ROLE {app} WITH LOGIN PASSWORD '…';  -- the server's login")
    grant = f"format('GRANT %I TO %I', {_literal(roles.owner)}, {_literal(admin_user)})"
    lines += [
        f"-- The admin user (ONEMAP_DATABASE_URL's) becomes a member of {roles.owner}:",
        "DO $$ BEGIN",
        "  IF current_setting('server_version_num')::int >= 160000 THEN",
        f"    EXECUTE {grant} || ' WITH INHERIT TRUE, SET TRUE';",
        "  ELSE",
        f"    EXECUTE {grant};",
        "  END IF;",
        "END $$;",
    ]
    return "\n".join(lines) + "\n"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _stored(password: str) -> str:
    """What ``PASSWORD …`` is given: the SCRAM verifier of an ASCII password (the password
    itself never reaches the server or its statement log); any other is sent as is, since the
    server SASLpreps it before hashing."""
    return scram_verifier(password) if password.isascii() else password


def scram_verifier(password: str, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for an ASCII ``password`` (RFC 5802,
    RFC 7677), in PostgreSQL's format (libpq's ``PQencryptPasswordConn`` makes the same)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


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
