"""The ``onemap`` command: provision, migrate, seed and serve. Every command has ``--help``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import psycopg
from pydantic import ValidationError

from geo.access import JURISDICTION_SYNTAX
from server.cli_common import fail as _fail
from server.cli_common import settings_of as _settings
from server.kernel.settings import DatabaseSettings, Settings

if TYPE_CHECKING:
    from geo.migrate import DatabaseRoles


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_database(url: str, timeout_s: float) -> None:
    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout_s))):
            pass
    except psycopg.Error as exc:
        _fail(f"cannot connect to the database ({_redacted(url)}): {_first_line(exc)}")


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable URL"
    host, port, db = info.get("host", "localhost"), info.get("port", "5432"), info.get("dbname")
    return f"{host}:{port}/{db or ''}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """OneMap (一张图): the city's one spatial layer, served as OGC API, GraphQL and REST.

    Settings come from ONEMAP_* environment variables and .env (see .env.example).
    """
    from server.kernel.logs import configure_logging

    try:
        ctx.obj = Settings.from_env()
    except ValidationError as exc:
        err = exc.errors()[0]
        prefix = str(exc.title).removesuffix("Settings").upper()
        name = f"ONEMAP_{prefix}_{'_'.join(map(str, err['loc'])).upper()}"
        _fail(f"invalid setting {name}: {err['msg'].removeprefix('Value error, ')}")
    configure_logging(_settings(ctx).log)


@main.group()
def db() -> None:
    """Database provisioning: the database, PostGIS and the two roles (docs/deploy.md)."""


def _roles(settings: DatabaseSettings) -> DatabaseRoles:
    from geo.migrate import DatabaseRoles

    return DatabaseRoles(owner=settings.owner_role, app=settings.app_role)


def _ensure_roles(settings: DatabaseSettings) -> None:
    from server.kernel.provision import ProvisionError, ensure_roles

    try:
        ensure_roles(settings.libpq_url, settings.app_login_password(), _roles(settings))
    except ProvisionError as exc:
        _fail(str(exc))


@db.command("provision")
@click.option("--print-url", is_flag=True, help="Print the (admin) database URL on stdout.")
@click.pass_context
def db_provision(ctx: click.Context, print_url: bool) -> None:
    """Find or create a PostGIS database for OneMap, and its two roles.

    Uses ONEMAP_DATABASE_URL when set; otherwise the local server on 127.0.0.1:5432, or a
    private cluster under the data directory. Creates the database and PostGIS when missing,
    and the roles ONEMAP_DATABASE_OWNER_ROLE (owns the map, no login) and
    ONEMAP_DATABASE_APP_ROLE (the server's login, with its password), making the admin user a
    member of the owner. Idempotent. Needs CREATEDB and CREATEROLE (or a superuser); on a
    managed server see `onemap db roles --print-sql` and docs/deploy.md.
    """
    from server.kernel.provision import ProvisionError, provision

    settings = _settings(ctx)
    given = os.environ.get("ONEMAP_DATABASE_URL") or None
    database = settings.database
    try:
        url = provision(
            settings.data.dir,
            given,
            roles=_roles(database),
            app_password=database.app_login_password(),
        )
    except ProvisionError as exc:
        _fail(str(exc))
    if print_url:
        click.echo(url)
    else:
        click.echo(f"database ready: {_redacted(url)}", err=True)


@db.command("roles")
@click.option(
    "--print-sql",
    is_flag=True,
    help="Print the SQL a DBA runs once per server instead (for a managed PostgreSQL where "
    "the admin user may not create roles); connects to nothing.",
)
@click.pass_context
def db_roles(ctx: click.Context, print_sql: bool) -> None:
    """Create the owner and app roles on ONEMAP_DATABASE_URL's server (idempotent).

    The owner role (ONEMAP_DATABASE_OWNER_ROLE, NOLOGIN) will own every table, view,
    sequence and function; the admin user of ONEMAP_DATABASE_URL becomes its member and
    migrates as it. The app role (ONEMAP_DATABASE_APP_ROLE) is the server's login: it reads and
    writes rows, only appends to the append-only tables, and owns nothing. Its password is set
    from ONEMAP_DATABASE_APP_URL or ONEMAP_DATABASE_APP_PASSWORD, else generated once into the
    data directory. Grants inside the database are made by `onemap migrate`.
    """
    from server.kernel.provision import roles_sql

    settings = _settings(ctx).database
    if print_sql:
        try:
            admin = psycopg.conninfo.conninfo_to_dict(settings.libpq_url).get("user")
        except psycopg.ProgrammingError:
            admin = None
        click.echo(
            roles_sql(str(admin or "postgres"), settings.app_login_password(), _roles(settings)),
            nl=False,
        )
        return
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    _ensure_roles(settings)
    click.echo(f"roles ready: {settings.owner_role}, {settings.app_role}", err=True)


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.option("--downgrade", is_flag=True, help="Downgrade to --revision (e.g. base).")
@click.pass_context
def migrate(ctx: click.Context, revision: str, downgrade: bool) -> None:
    """Bring the database schema to a revision (default: the newest).

    Runs as ONEMAP_DATABASE_URL's admin user, after making the owner and app roles when
    missing (as `onemap db roles` does); the migrations themselves run as the owner role.
    """
    from geo import migrate as m

    settings = _settings(ctx).database
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    _ensure_roles(settings)
    roles = _roles(settings)
    before = m.current_revision(settings.sqlalchemy_url)
    try:
        if downgrade:
            m.downgrade(settings.sqlalchemy_url, revision, roles)
        else:
            m.upgrade(settings.sqlalchemy_url, revision, roles)
    except Exception as exc:
        _fail(f"migration failed: {_first_line(exc)}")
    after = m.current_revision(settings.sqlalchemy_url)
    click.echo(f"migrations: {before or 'empty'} → {after or 'base'}", err=True)
    if not downgrade:
        _fill_case_facts(_settings(ctx))
        _build_clocks(_settings(ctx), quiet=True)


def _fill_case_facts(settings: Settings) -> None:
    """Evaluation facts for the cases that have none (a database that existed before them)."""
    from geo.services import case_facts

    case_facts.configure(settings.clock.rules())
    with psycopg.connect(settings.database.libpq_url, autocommit=True) as conn:
        count = case_facts.fill_missing(conn)
    if count:
        click.echo(f"evaluation facts of {count:,} cases computed", err=True)


@main.command()
@click.option(
    "--scale",
    type=click.FloatRange(min=0.001, max=100),
    default=1.0,
    show_default=True,
    help="1 = the demo city (20k facilities, 2k cameras, 50k cases); 10 = 1M cases.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def seed(ctx: click.Context, scale: float, quiet: bool) -> None:
    """Load the synthetic demo city (idempotent: a second run adds nothing)."""
    from seed.load import seed as load

    settings = _settings(ctx).database
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    bars: dict[str, Any] = {}

    def progress(layer: str, done: int, total: int) -> None:
        if quiet:
            return
        bar = bars.get(layer)
        if bar is None:
            bar = bars[layer] = click.progressbar(
                length=max(total, 1), label=f"{layer:<10}", file=sys.stderr, show_pos=True
            )
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    from geo.services import case_facts

    case_facts.configure(_settings(ctx).clock.rules())
    try:
        with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
            report = load(conn, scale, progress)
    except psycopg.errors.UndefinedTable as exc:
        _fail(f"the database is not migrated ({_first_line(exc)}): run `onemap migrate` first")
    added = ", ".join(f"{k} {v:,}" for k, v in report.added.items() if v) or "nothing"
    click.echo(f"seeded scale {scale:g} in {report.seconds:.1f} s: added {added}", err=True)
    # The seeded history is a past: its late cases are not told of or escalated again.
    _build_clocks(_settings(ctx), told=True, quiet=quiet)


@main.command()
@click.option("--host", help="Interface to bind (default from ONEMAP_SERVER_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (ONEMAP_SERVER_PORT).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP server."""
    import uvicorn

    settings = _settings(ctx)
    # The server logs in as the app role: check that login, not the owner's.
    _check_database(settings.database.app_libpq_url, settings.database.connect_timeout_s)
    server = settings.server
    host, port = host or server.host, port or server.port
    # The app (built by the factory in each worker) reads its settings from the environment:
    # pass the options on, so links and TileJSON URLs name the port actually served.
    os.environ["ONEMAP_SERVER_HOST"], os.environ["ONEMAP_SERVER_PORT"] = host, str(port)
    click.echo(f"OneMap serving on http://{host}:{port}", err=True)
    uvicorn.run(
        "server.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers or server.workers,
        log_config=None,
        access_log=settings.log.access_log,
        lifespan="on",
        **proxy_options(server.trusted_proxies),
    )


def proxy_options(trusted: list[str]) -> dict[str, Any]:
    """uvicorn's proxy-header options: X-Forwarded-For/-Proto are read only from the proxies
    in ONEMAP_SERVER_TRUSTED_PROXIES (uvicorn alone would believe any from 127.0.0.1), so the
    address every surface reads from the ASGI scope — and writes to the audit log — is the
    peer's unless a trusted proxy forwarded the request."""
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted)}


@contextlib.contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing one bar on stderr (none when ``quiet``),
    closed on the way out."""
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@main.group()
def evaluation() -> None:
    """Evaluation (考核) facts and figures (docs/evaluation.md)."""


@evaluation.command("rebuild")
@click.option("--missing", is_flag=True, help="Only the cases without facts yet.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def evaluation_rebuild(ctx: click.Context, missing: bool, quiet: bool) -> None:
    """Recompute every case's evaluation facts from its timeline, with the clock settings'
    calendar: after a bulk load, or a change of stage limits or the calendar."""
    from geo.services import case_facts

    settings = _settings(ctx)
    _check_database(settings.database.libpq_url, settings.database.connect_timeout_s)
    case_facts.configure(settings.clock.rules())
    with (
        _progress("facts", quiet) as progress,
        psycopg.connect(settings.database.libpq_url, autocommit=True) as conn,
    ):
        count = case_facts.rebuild(conn, missing_only=missing, progress=progress)
    click.echo(f"evaluation facts of {count:,} cases rebuilt", err=True)


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.option("--phone", required=True, help="The login phone number.")
@click.option("--name", required=True, help="Display name.")
@click.option("--role", "roles", multiple=True, required=True,
              help="A staff role; repeat for several (admin, dispatcher, …).")  # fmt: skip
@click.option("--department", help="Department code (needed for department_staff).")
@click.option("--jurisdiction", metavar="SCOPE[:CODES]", help=JURISDICTION_SYNTAX)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")  # fmt: skip
@click.pass_context
def users_create(
    ctx: click.Context,
    phone: str,
    name: str,
    roles: tuple[str, ...],
    department: str | None,
    jurisdiction: str | None,
    password_stdin: bool,
) -> None:
    """Create a staff account; the password is hashed with argon2 (never taken as a flag).
    Where it sees and acts is its jurisdiction (docs/access.md)."""
    from geo.errors import OneMapError
    from geo.passwords import hash_password
    from geo.services.staff_accounts import create_staff

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        _fail("the password must have at least 10 characters")
    settings = _settings(ctx).database
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    try:
        with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
            hashed = hash_password(password)
            user_id = create_staff(conn, phone=phone, name=name, roles=list(roles),
                                   password_hash=hashed, department=department,
                                   jurisdiction=jurisdiction)  # fmt: skip
    except OneMapError as exc:
        _fail(exc.message)
    click.echo(f"created user {user_id} ({', '.join(sorted(set(roles)))})", err=True)


@main.command("sweep")
@click.option("--once", is_flag=True, help="Sweep once, print the counts as JSON and exit.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=None,
              help="Seconds between sweeps (default ONEMAP_SUPERVISION_SWEEP_SECONDS, or 60 "
              "when that is 0).")  # fmt: skip
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build the stored clocks of the open cases whose "
    "clock is missing or stale (after a bulk load), with progress, then exit.",
)
@click.option(
    "--every",
    is_flag=True,
    help="Along with --rebuild: every open case's clock (after a "
    "change of stage limits or the calendar).",
)
@click.option(
    "--told",
    is_flag=True,
    help="Along with --rebuild: a loaded past (an import of old "
    "cases) — the built clocks count as already notified and escalated as far as they "
    "are now; the sweep acts only on what happens after.",
)
@click.pass_context
def sweep_command(
    ctx: click.Context, once: bool, interval: float | None, rebuild: bool, every: bool,
    told: bool,
) -> None:  # fmt: skip
    """Run the supervision sweep (督办, docs/daily-loop.md) for the whole city: clock warnings
    and overdue notices, escalations, missed supervisions.

    Safe beside running servers: a PostgreSQL advisory lock lets one sweep at a time; a sweep
    that finds the lock taken skips (with --once: prints {"ran": false}). Without --once it
    sweeps every interval until interrupted (for servers run with
    ONEMAP_SUPERVISION_SWEEP_SECONDS=0).
    """
    import asyncio
    import json
    import time

    from server.kernel.sweeper import sweep_once

    settings = _settings(ctx)
    if rebuild:
        _build_clocks(settings, every=every, told=told)
        return
    url = settings.database.app_libpq_url
    _check_database(url, settings.database.connect_timeout_s)
    pause = interval or settings.supervision.sweep_seconds or 60.0

    async def one() -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return (await sweep_once(conn, settings)).counts()

    try:
        while True:
            try:
                counts = asyncio.run(one())
            except psycopg.errors.UndefinedTable as exc:
                _fail(f"the database is not migrated ({_first_line(exc)}): run `onemap migrate`")
            if once:
                click.echo(json.dumps(counts))
                return
            time.sleep(pause)
    except KeyboardInterrupt:
        return


def _build_clocks(settings: Settings, *, every: bool = False, told: bool = False,
                  quiet: bool = False) -> None:  # fmt: skip
    """The stored clocks (case_clock_states) of the open cases that have none or a stale one
    (``every``: all), with a progress bar; ``told``: a seeded past, already notified."""
    import asyncio

    from geo.services import clock_states

    url = settings.database.libpq_url
    _check_database(url, settings.database.connect_timeout_s)

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            if not await clock_states.present(conn):
                return 0  # a revision before the stored clocks
            return await clock_states.rebuild(
                conn, settings.clock.rules(), settings.supervision.rules(), every=every,
                told=told, progress=progress,
            )  # fmt: skip

    try:
        with _progress("clocks", quiet) as progress:
            count = asyncio.run(run())
    except psycopg.errors.UndefinedTable as exc:
        _fail(f"the database is not migrated ({_first_line(exc)}): run `onemap migrate`")
    if count or not quiet:
        click.echo(f"stored clocks of {count:,} open cases built", err=True)


@main.group()
def audit() -> None:
    """The audit trail: verify its hash chain, export it (docs/audit.md)."""


def _anchor_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = (line.split("#", 1)[0].split() for line in path.read_text().splitlines())
    return [words[0] for words in lines if words]


@audit.command("verify")
@click.option("--anchor", "anchors", multiple=True, metavar="SEQ:HASH",
              help="A head printed by an earlier verify (repeatable): the log must still hold "
              "that row with that hash, which shows a rewritten or cut-off head.")  # fmt: skip
@click.option("--anchors-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Anchors, one SEQ:HASH a line; the new head is appended when the chain is "
              "intact. Keep it where the database's administrators cannot write.")  # fmt: skip
@click.option("--batch", type=click.IntRange(100, 1_000_000), default=20_000, show_default=True,
              help="Rows read per round trip.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@click.pass_context
def audit_verify(
    ctx: click.Context,
    anchors: tuple[str, ...],
    anchors_file: Path | None,
    batch: int,
    quiet: bool,
) -> None:
    """Check the audit log's hash chain, recomputing every row's SHA-256 in Python.

    Exit status 0 when intact (the head is printed as SEQ:HASH: keep it as an anchor for the
    next run); 1 with one line naming the first problem: a changed row, an inserted row, a
    missing row or a changed head.
    """
    import time
    from datetime import UTC, datetime

    from geo.errors import InvalidInput
    from geo.services.audit_chain import Anchor, verify

    try:
        wanted = [Anchor.parse(a) for a in anchors]
        if anchors_file is not None:
            wanted += [Anchor.parse(a) for a in _anchor_lines(anchors_file)]
    except InvalidInput as exc:
        _fail(exc.message)
    settings = _settings(ctx).database
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    shown = [0.0]
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        """At most once a second, for logs of 100,000 rows or more."""
        now = time.monotonic()
        if quiet or total < 100_000 or (now - shown[0] < 1 and done < total):
            return
        shown[0] = now
        line = f"verified {done:,} of {total:,} rows"
        click.echo(f"\r{line}" if tty else line, err=True, nl=not tty or done >= total)

    try:
        with psycopg.connect(settings.libpq_url) as conn:
            report = verify(conn, anchors=wanted, batch=batch, progress=progress)
    except psycopg.errors.UndefinedColumn as exc:
        _fail(f"the audit log has no chain ({_first_line(exc)}): run `onemap migrate` first")
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)
    if anchors_file is not None and report.head is not None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with anchors_file.open("a") as out:
            out.write(f"{report.head} {stamp}\n")


@audit.command("export")
@click.option("--since", "since", metavar="TIME", help="RFC 3339 (with offset): rows at or after.")
@click.option("--until", "until", metavar="TIME", help="RFC 3339 (with offset): rows before.")
@click.option("--actor", type=int, help="The acting user's id.")
@click.option("--role", help="The acting role.")
@click.option("--action", help="An action (camera.view.start) or a prefix (camera.*).")
@click.option("--object-type", help="The object's type (case, camera, user, …).")
@click.option("--object-id", help="The object's id.")
@click.option("--client", help="The client's IP address or CIDR block.")
@click.pass_context
def audit_export(ctx: click.Context, /, **filters: Any) -> None:
    """Write the audit rows that match as CSV on stdout, oldest first, streamed:
    `onemap audit export --since 2026-11-01T00:00:00Z > audit.csv`.

    The columns are those of GET /api/v1/audit/export; the export is itself audited
    (audit.export, with the filters and the operating-system user).
    """
    import csv
    import getpass

    from geo.errors import InvalidInput
    from geo.queries import audit as audit_q
    from geo.services import audit as audit_log

    try:
        where = audit_q.AuditFilter.parse(**filters, names=("--since", "--until"))
    except InvalidInput as exc:
        _fail(exc.message)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    settings = _settings(ctx).database
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    writer = csv.writer(sys.stdout)
    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        detail = {"filters": where.describe(), "format": "csv", "via": "cli", "os_user": user}
        audit_log.record_sync(conn, audit_log.Entry(None, None, "audit.export", "audit_log",
                                                    None, None, detail))  # fmt: skip
        writer.writerow(audit_q.COLUMNS)
        for rows in audit_log.stream_sync(conn, audit_q.export(where)):
            writer.writerows(audit_q.csv_record(r) for r in rows)


def _register() -> None:
    from server.cli_apikeys import apikeys
    from server.cli_layers import layers
    from server.cli_sensors import mqtt, sensors
    from server.cli_simulate import simulate

    main.add_command(apikeys)
    main.add_command(layers)
    main.add_command(mqtt)
    main.add_command(sensors)
    main.add_command(simulate)


_register()
