"""The ``onemap`` command: provision, migrate, seed and serve. Every command has ``--help``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import psycopg
from pydantic import ValidationError

from geo.access import JURISDICTION_SYNTAX
from server.kernel.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def _fail(message: str) -> None:
    """Exit non-zero with a one-line reason, no traceback."""
    click.echo(f"onemap: {message}", err=True)
    sys.exit(2)


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
    """Database provisioning."""


@db.command("provision")
@click.option("--print-url", is_flag=True, help="Print the database URL on stdout.")
@click.pass_context
def db_provision(ctx: click.Context, print_url: bool) -> None:
    """Find or create a PostGIS database for OneMap.

    Uses ONEMAP_DATABASE_URL when set; otherwise the local server on 127.0.0.1:5432, or a
    private cluster under the data directory. Creates the database and PostGIS when missing.
    """
    import os

    from server.kernel.provision import ProvisionError, provision

    settings = _settings(ctx)
    given = os.environ.get("ONEMAP_DATABASE_URL") or None
    try:
        url = provision(settings.data.dir, given)
    except ProvisionError as exc:
        _fail(str(exc))
    if print_url:
        click.echo(url)
    else:
        click.echo(f"database ready: {_redacted(url)}", err=True)


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.option("--downgrade", is_flag=True, help="Downgrade to --revision (e.g. base).")
@click.pass_context
def migrate(ctx: click.Context, revision: str, downgrade: bool) -> None:
    """Bring the database schema to a revision (default: the newest)."""
    from geo import migrate as m

    settings = _settings(ctx).database
    _check_database(settings.libpq_url, settings.connect_timeout_s)
    before = m.current_revision(settings.sqlalchemy_url)
    try:
        if downgrade:
            m.downgrade(settings.sqlalchemy_url, revision)
        else:
            m.upgrade(settings.sqlalchemy_url, revision)
    except Exception as exc:
        _fail(f"migration failed: {_first_line(exc)}")
    after = m.current_revision(settings.sqlalchemy_url)
    click.echo(f"migrations: {before or 'empty'} → {after or 'base'}", err=True)


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

    try:
        with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
            report = load(conn, scale, progress)
    except psycopg.errors.UndefinedTable as exc:
        _fail(f"the database is not migrated ({_first_line(exc)}): run `onemap migrate` first")
    added = ", ".join(f"{k} {v:,}" for k, v in report.added.items() if v) or "nothing"
    click.echo(f"seeded scale {scale:g} in {report.seconds:.1f} s: added {added}", err=True)


@main.command()
@click.option("--host", help="Interface to bind (default from ONEMAP_SERVER_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (ONEMAP_SERVER_PORT).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP server."""
    import uvicorn

    settings = _settings(ctx)
    _check_database(settings.database.libpq_url, settings.database.connect_timeout_s)
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
        proxy_headers=True,
        lifespan="on",
    )


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
