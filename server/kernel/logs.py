"""Structured logging: one JSON object per line on stderr, quiet by default.

Every logger (ours, uvicorn's, psycopg's) goes through the root handler set here, so a log
shipper sees one format. Third-party libraries log at WARNING unless ``ONEMAP_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from server.kernel.settings import LogSettings

NOISY = ("uvicorn", "uvicorn.error", "psycopg", "psycopg.pool", "alembic", "pygeoapi")


def configure_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    third_party = settings.level if settings.level == "DEBUG" else "WARNING"
    for name in NOISY:
        logging.getLogger(name).setLevel(third_party)
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO if settings.access_log else logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
