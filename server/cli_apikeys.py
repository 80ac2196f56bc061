"""``onemap apikeys …``: departments' API keys for machine clients — create (the key is shown
once), list, revoke, and the usage report (数据共享情况通报) as a table, JSON or CSV
(docs/open-data.md). Registered on the main command in ``server.cli``.

The command acts as the city's operators (a system principal with ``manage_api_keys``); every
creation and revocation is audited as any other.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click
import psycopg

from geo import access
from geo.access import Capability, system
from geo.queries import api_keys as q
from geo.queries import fetch
from geo.services import api_keys
from geo.services.catalogue import reload
from server.cli_common import run_on_app

OPERATOR = system(Capability.MANAGE_API_KEYS)


def _run(ctx: click.Context, work: Any) -> Any:
    """``work(conn)`` on the app role's connection, committed, with the layer catalogue
    loaded first: its layers may be granted too."""

    async def with_catalogue(conn: psycopg.AsyncConnection[Any]) -> Any:
        await reload(conn)
        return await work(conn)

    return run_on_app(ctx, with_catalogue)


def _expiry(text: str | None) -> datetime | None:
    """``30d``, ``12h`` or an ISO 8601 instant (UTC when it names no zone)."""
    if not text:
        return None
    units = {"d": "days", "h": "hours"}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) + timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("give 30d, 12h or an ISO 8601 instant") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _row(k: q.KeyRow) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": k.id, "name": k.name, "prefix": k.prefix, "department": k.department,
        "datasets": k.datasets, "state": k.state(now), "rate_per_minute": k.rate_per_minute,
        "created_at": k.created_at.isoformat(),
        "expires_at": k.expires_at.isoformat() if k.expires_at else None,
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
    }  # fmt: skip


@click.group("apikeys")
def apikeys() -> None:
    """Departments' API keys for machine clients: each reads exactly the datasets it was
    granted through /ogc and /open (docs/open-data.md)."""


_GRANTABLE = ", ".join(sorted(access.grantable()))


@apikeys.command("create")
@click.option("--department", required=True, help="The department's code (departments.code, "
              "e.g. emergency_management).")  # fmt: skip
@click.option("--name", required=True, help="What the key is for (shown in lists and reports).")
@click.option("--dataset", "datasets", multiple=True, required=True,
              help=f"A dataset it may read (repeat the option): {_GRANTABLE}.")  # fmt: skip
@click.option("--expires", default=None, help="When it stops working: 30d, 12h or an ISO 8601 "
              "instant (default: never).")  # fmt: skip
@click.option("--rate", "rate", type=int, default=api_keys.DEFAULT_RATE, show_default=True,
              help="Requests a minute it may make.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@click.pass_context
def create(ctx: click.Context, department: str, name: str, datasets: tuple[str, ...],
           expires: str | None, rate: int, as_json: bool) -> None:  # fmt: skip
    """Create a key for a department. The key is printed once and never stored: hand it over
    now. Internal datasets (buildings, facilities with hazard sources, critical sensors) may
    be granted; restricted and jurisdiction-bound ones (full cases, cameras) may not."""
    until = _expiry(expires)
    made = _run(ctx, lambda c: api_keys.create(
        c, OPERATOR, department=department, name=name, datasets=list(datasets),
        expires_at=until, rate_per_minute=rate))  # fmt: skip
    if as_json:
        click.echo(json.dumps({"key": made.key, **_row(made.row)}, ensure_ascii=False))
        return
    click.echo(made.key)
    click.echo(f"key {made.row.id} of {made.row.department} for {', '.join(made.row.datasets)}"
               f"{' until ' + made.row.expires_at.isoformat() if made.row.expires_at else ''}"
               " — shown once: store it now.", err=True)  # fmt: skip


@apikeys.command("list")
@click.option("--department", default=None, help="Only this department's keys.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
def list_keys(ctx: click.Context, department: str | None, as_json: bool) -> None:
    """Every key: id, prefix, department, datasets, state (active, expired, revoked), expiry and
    last use. Never a key itself."""
    rows = [_row(k) for k in _run(ctx, lambda c: api_keys.listing(c, OPERATOR, department))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['prefix']}…  {r['state']:<8} {r['department']:<22} "
                   f"{r['name']}  [{', '.join(r['datasets'])}]  expires {r['expires_at'] or '-'}"
                   f"  last used {r['last_used_at'] or '-'}")  # fmt: skip


@apikeys.command("revoke")
@click.argument("key_id", type=int)
@click.pass_context
def revoke(ctx: click.Context, key_id: int) -> None:
    """Revoke a key: its next request is refused (401), in every server process."""
    row = _run(ctx, lambda c: api_keys.revoke(c, OPERATOR, key_id))
    click.echo(f"key {row.id} ({row.prefix}…, {row.department}) revoked at {row.revoked_at}")


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("give a date as YYYY-MM-DD") from None


@apikeys.command("usage")
@click.option("--key", "key_id", type=int, default=None, help="Only this key.")
@click.option("--department", default=None, help="Only this department's keys.")
@click.option("--since", default=None, help="From this day (YYYY-MM-DD, UTC).")
@click.option("--until", default=None, help="Up to this day, included.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)  # fmt: skip
@click.pass_context
def usage(ctx: click.Context, key_id: int | None, department: str | None, since: str | None,
          until: str | None, fmt: str) -> None:  # fmt: skip
    """The usage report (数据共享情况通报): requests, features and bytes served per key, day and
    dataset, and the last request's time. Counts reach the database within
    ONEMAP_OGC_KEY_USAGE_FLUSH_S seconds of the request."""

    async def read(conn: Any) -> list[q.UsageRow]:
        access.manages_api_keys(OPERATOR)
        return await fetch(conn, q.usage(key_id, department, _day(since), _day(until)))

    rows = [_usage(r) for r in _run(ctx, read)]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=q.USAGE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        for r in rows:
            click.echo(f"{r['day']}  key {r['key_id']:>4} {r['department']:<22} "
                       f"{r['dataset']:<12} {r['requests']:>7} requests {r['rows']:>10} rows "
                       f"{r['bytes']:>12} bytes  last {r['last_at']}")  # fmt: skip


def _usage(r: q.UsageRow) -> dict[str, Any]:
    return {"key_id": r.key_id, "key_name": r.key_name, "department": r.department,
            "day": r.day.isoformat(), "dataset": r.dataset, "requests": r.requests,
            "rows": r.rows, "bytes": r.bytes, "last_at": r.last_at.isoformat()}  # fmt: skip
