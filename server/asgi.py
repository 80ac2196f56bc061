"""Entry point for ASGI servers: ``uvicorn --factory server.asgi:create``."""

from __future__ import annotations

from starlette.applications import Starlette

from server.app import create_app
from server.kernel.logs import configure_logging
from server.kernel.settings import Settings


def create() -> Starlette:
    settings = Settings.from_env()
    configure_logging(settings.log)
    return create_app(settings)
