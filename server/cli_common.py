"""What every ``onemap`` command group shares: the settings the root command built, a
one-line failure (exit status 2, no traceback), and running a piece of work on the app role's
connection with the domain's and the database's errors said in one line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import click
import psycopg

from geo.errors import OneMapError
from server.kernel.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings ``onemap`` built for this run (on the root context's ``obj``)."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def fail(message: str) -> NoReturn:
    """Exit non-zero with a one-line reason, no traceback."""
    click.echo(f"onemap: {message}", err=True)
    sys.exit(2)


def run_on_app(
    ctx: click.Context,
    work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[Any]],
    *,
    autocommit: bool = False,
) -> Any:
    """``work(conn)`` on the app role's connection — committed at the end, or in autocommit
    mode for work that holds its own transactions; a domain error or a database failure is
    one line and exit status 2."""
    url = settings_of(ctx).database.app_libpq_url

    async def go() -> Any:
        async with await psycopg.AsyncConnection.connect(url, autocommit=autocommit) as conn:
            out = await work(conn)
            if not autocommit:
                await conn.commit()
            return out

    try:
        return asyncio.run(go())
    except OneMapError as exc:
        fail(exc.message)
    except psycopg.Error as exc:
        fail(f"the database failed: {str(exc).strip().splitlines()[0]}")
