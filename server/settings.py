"""Settings, one pydantic-settings class per concern, each with its own ``ONEMAP_…`` prefix.

Nothing here is read at import time: the CLI (or a test) calls :meth:`Settings.from_env` and
passes the result down to :func:`server.app.create_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


class DatabaseSettings(BaseSettings):
    """Where the one map lives (``ONEMAP_DATABASE_…``)."""

    model_config = _config("ONEMAP_DATABASE_")

    url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/onemap",
        description="libpq URL of a PostgreSQL ≥ 15 database with PostGIS 3.",
    )
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=16, ge=1)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    statement_timeout_ms: int = Field(default=15_000, ge=0)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
            raise ValueError(f"must be a postgresql:// URL, not {scheme}://…")
        return value

    @property
    def libpq_url(self) -> str:
        """The URL as libpq (psycopg) wants it, without a SQLAlchemy driver suffix."""
        return "postgresql://" + self.url.split("://", 1)[1]

    @property
    def sqlalchemy_url(self) -> str:
        """The URL for SQLAlchemy/Alembic, pinned to the psycopg 3 driver."""
        return "postgresql+psycopg://" + self.url.split("://", 1)[1]


class ServerSettings(BaseSettings):
    """The HTTP server (``ONEMAP_SERVER_…``)."""

    model_config = _config("ONEMAP_SERVER_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="",
        description="Base URL clients see (scheme, host, prefix); defaults to http://host:port.",
    )
    dev_mode: bool = False
    allowed_origins: list[str] = Field(default_factory=list)
    workers: int = Field(default=1, ge=1)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class LogSettings(BaseSettings):
    """Logging (``ONEMAP_LOG_…``): JSON lines, quiet by default."""

    model_config = _config("ONEMAP_LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"
    access_log: bool = False


class DataSettings(BaseSettings):
    """Local state: generated keys, a private PostgreSQL cluster (``ONEMAP_DATA_…``)."""

    model_config = _config("ONEMAP_DATA_")

    dir: Path = Path(".data")


class AuthSettings(BaseSettings):
    """Identity (``ONEMAP_AUTH_…``): ES256 JWTs, their keys and lifetimes."""

    model_config = _config("ONEMAP_AUTH_")

    issuer: str = "onemap"
    audience: str = "onemap"
    access_ttl_s: int = Field(default=900, ge=30, le=86_400)
    private_key_file: Path | None = Field(
        default=None,
        description="PEM EC P-256 private key; unset: generated on first run in the data dir.",
    )
    retired_public_key_files: list[Path] = Field(
        default_factory=list,
        description="PEM public keys still listed in the JWKS until their tokens expire.",
    )


class GraphQLSettings(BaseSettings):
    """GraphQL (``ONEMAP_GRAPHQL_…``): page sizes and the limits that guard the parser."""

    model_config = _config("ONEMAP_GRAPHQL_")

    default_first: int = Field(default=100, ge=1)
    max_first: int = Field(default=1000, ge=1)
    max_radius_m: float = Field(default=5_000.0, gt=0, description="Cap of near/incident radii.")
    max_depth: int = Field(default=10, ge=2)
    max_aliases: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=5_000, ge=100)
    compiled_pages: bool = Field(
        default=True, description="Render plain pages in SQL (server/gql/compiled.py)."
    )


class Settings(BaseModel):
    """All of OneMap's settings, built once and passed down."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database=DatabaseSettings(),
            server=ServerSettings(),
            log=LogSettings(),
            data=DataSettings(),
            auth=AuthSettings(),
            graphql=GraphQLSettings(),
        )
