"""What every ``onemap`` command group shares: the settings the root command built, and a
one-line failure (exit status 2, no traceback)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

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
