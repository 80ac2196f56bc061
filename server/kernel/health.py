"""Probes: ``/healthz`` (the process answers) and ``/readyz`` (the database can serve us)."""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors as pg_errors
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger("onemap.health")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, PostGIS is installed and migrations are at head."""
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        async with state.pool.connection(timeout=2.0) as conn:
            checks["database"] = "ok"
            row = await (
                await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).fetchone()
            if row is None:
                return _not_ready(checks, "PostGIS is not installed in the database.")
            checks["postgis"] = row[0]
            try:
                cur = await conn.execute("SELECT version_num FROM alembic_version")
                current = [r[0] for r in await cur.fetchall()]
            except pg_errors.UndefinedTable:
                current = []
    except (psycopg.Error, TimeoutError) as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return _not_ready(checks, "The database is unreachable.")
    head = state.migration_head
    checks["migrations"] = ",".join(current) or "none"
    if current != [head]:
        return _not_ready(
            checks,
            f"Database migrations are at {checks['migrations']}, the code needs {head}: "
            "run `onemap migrate`.",
        )
    return JSONResponse({"status": "ready", "checks": checks})


def _not_ready(checks: dict[str, str], reason: str) -> JSONResponse:
    return JSONResponse(
        {"status": "not_ready", "reason": reason, "checks": checks},
        status_code=503,
        headers={"Retry-After": "5"},
    )


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
