"""Settings, one pydantic-settings class per concern, each with its own ``ONEMAP_…`` prefix.

Nothing here is read at import time: the CLI (or a test) calls :meth:`Settings.from_env` and
passes the result down to :func:`server.app.create_app`.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.services.clock_states import SupervisionRules
from geo.services.clocks import ClockRules
from geo.services.workdays import Calendar
from geo.services.worktime import WorkingTime
from server.kernel.cors import origin_of
from server.kernel.geocode_settings import GeocodeSettings
from server.kernel.once_files import read_or_create
from server.kernel.warning_settings import WarningSettings


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


#: A role name OneMap creates: a plain lower-case identifier (no quoting surprises).
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _app_password_file() -> Path:
    # In the data directory (ONEMAP_DATA_DIR), like the other generated secrets.
    return DataSettings().dir / "secrets" / "db-app-password"


class DatabaseSettings(BaseSettings):
    """Where the one map lives and who logs in (``ONEMAP_DATABASE_…``; docs/deploy.md).

    Two logins: ``url`` is the owner/admin's (provisioning, migrations, seeding, the admin
    commands), ``app_url`` the server's — the ``app_role``, which may read and write rows but
    owns nothing, so it cannot truncate, disable triggers or rewrite append-only history.
    """

    model_config = _config("ONEMAP_DATABASE_")

    url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/onemap",
        description="libpq URL of a PostgreSQL ≥ 15 database with PostGIS 3, as the admin user "
        "that provisions, migrates and seeds it (a member of owner_role).",
    )
    app_url: str = Field(
        default="",
        description="libpq URL the server logs in with (app_role). Empty: url's host, port and "
        "database as app_role, with app_password.",
    )
    app_password: SecretStr = Field(
        default=SecretStr(""),
        description="The app role's password when app_url is empty. Empty: a random one "
        "generated once into app_password_file.",
    )
    app_password_file: Path = Field(
        default_factory=_app_password_file,
        description="Where the generated app password is kept (mode 0600); default "
        "<ONEMAP_DATA_DIR>/secrets/db-app-password.",
    )
    owner_role: str = Field(
        default="onemap_owner", description="NOLOGIN role that owns every object of the map."
    )
    app_role: str = Field(default="onemap_app", description="The server's login role.")
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=16, ge=1)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    statement_timeout_ms: int = Field(
        default=15_000, ge=0, description="Statement time-out of signed-in users' requests."
    )
    public_statement_timeout_ms: int = Field(
        default=5_000, ge=0, description="Statement time-out of anonymous requests."
    )
    export_statement_timeout_ms: int = Field(
        default=120_000, ge=0, description="Statement time-out of exports (audit CSV, OGC)."
    )

    replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Streaming replicas that answer reads which tolerate lag (OGC, GraphQL "
        "queries; docs/scale.md), comma-separated libpq URLs. Without a user in one, the "
        "server logs in there as it does on the primary (app role). Empty: the primary "
        "answers everything.",
    )
    replica_max_lag_s: float = Field(
        default=5.0, gt=0, description="A replica further behind than this answers nothing."
    )
    replica_check_s: float = Field(
        default=1.0, gt=0, description="Seconds between checks of each replica's lag."
    )

    @field_validator("replica_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("replica_urls")
    @classmethod
    def _replica_urls(cls, value: list[str]) -> list[str]:
        return [cls._postgres_url(v) for v in value]

    @field_validator("url", "app_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value:
            return value
        scheme = value.split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
            raise ValueError(f"must be a postgresql:// URL, not {scheme}://…")
        return value

    @field_validator("owner_role", "app_role")
    @classmethod
    def _role_name(cls, value: str, info: ValidationInfo) -> str:
        if not _ROLE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a lower-case identifier ([a-z_][a-z0-9_]*)")
        if info.field_name == "app_role" and value == info.data.get("owner_role"):
            raise ValueError("must differ from the owner role")
        return value

    @property
    def libpq_url(self) -> str:
        """The URL as libpq (psycopg) wants it, without a SQLAlchemy driver suffix."""
        return "postgresql://" + self.url.split("://", 1)[1]

    @property
    def sqlalchemy_url(self) -> str:
        """The URL for SQLAlchemy/Alembic, pinned to the psycopg 3 driver."""
        return "postgresql+psycopg://" + self.url.split("://", 1)[1]

    @property
    def app_libpq_url(self) -> str:
        """The server's libpq URL: ``app_url``, or ``url`` with the app role and its password
        (which may be generated now, once, into ``app_password_file``)."""
        if self.app_url:
            return "postgresql://" + self.app_url.split("://", 1)[1]
        parts = urlsplit(self.libpq_url)
        password = self.app_login_password() or ""
        userinfo = f"{quote(self.app_role, safe='')}:{quote(password, safe='')}"
        netloc = userinfo + "@" + parts.netloc.rpartition("@")[2]
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("user", "password")]
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))

    def app_login_password(self) -> str | None:
        """The app role's password, which provisioning sets: ``app_url``'s (when it logs in as
        the app role), else ``app_password``, else the generated one."""
        if self.app_url:
            parts = urlsplit(self.app_url)
            if parts.username is not None and unquote(parts.username) != self.app_role:
                return None  # another login (a member of the app role): not ours to set
            return unquote(parts.password) if parts.password is not None else None
        if self.app_password.get_secret_value():
            return self.app_password.get_secret_value()
        return _read_or_make_secret(self.app_password_file)

    def for_server(self) -> DatabaseSettings:
        """These settings as the server process uses them: both URLs are the app role's, so
        nothing in the server (a pool, pygeoapi, the event listener) holds the owner's login."""
        app = self.app_libpq_url
        return self.model_copy(update={"url": app, "app_url": app})


def _read_or_make_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), made by whichever process comes first."""
    made = read_or_create(path, lambda: (secrets.token_urlsafe(32) + "\n").encode())
    return made.decode().strip()


class ServerSettings(BaseSettings):
    """The HTTP server (``ONEMAP_SERVER_…``)."""

    model_config = _config("ONEMAP_SERVER_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="",
        description="Base URL clients see (scheme, host, prefix); defaults to http://host:port.",
    )
    dev_mode: bool = Field(
        default=False,
        description="Development conveniences: GraphiQL at /graphql, and browser pages on "
        "http://localhost:<any port> and http://127.0.0.1:<any port> may call the app (CORS).",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins of web pages elsewhere that may call the app from a browser (CORS "
        "and the GraphQL WebSocket's Origin check), besides its own origin (public_url), which "
        'is always allowed. A JSON list: ["https://dashboard.city.example"]; ["*"] allows any '
        "page (docs/cors.md).",
    )
    workers: int = Field(default=1, ge=1)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxies (IP addresses or CIDR blocks) whose X-Forwarded-For/-Proto are "
        "believed: a request from one of them is the forwarded client's (audit log, limits). "
        'Empty: no proxy headers are read. A JSON list: ["10.0.0.0/8", "127.0.0.1"].',
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [v if v == "*" else origin_of(v) for v in value]

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        try:
            return [str(ipaddress.ip_network(v, strict=False)) for v in value]
        except ValueError as exc:
            raise ValueError(f"not an IP address or CIDR block: {exc}") from None

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
    refresh_ttl_s: int = Field(default=30 * 86_400, ge=60, description="Refresh-token lifetime.")
    otp_ttl_s: int = Field(default=300, ge=30, le=900, description="One-time code lifetime.")
    otp_window_s: int = Field(default=900, ge=60, description="Rate-limit window for codes.")
    otp_per_phone: int = Field(default=3, ge=1, description="Codes sent per phone per window.")
    otp_per_client: int = Field(default=20, ge=1, description="Codes per client addr per window.")
    otp_max_attempts: int = Field(
        default=5, ge=1, description="Wrong codes per phone per window, then 429 until it ends."
    )
    otp_client_max_attempts: int = Field(
        default=20, ge=1, description="Wrong codes per client address per window (any phones)."
    )
    otp_sender: Literal["log"] = Field(
        default="log", description="How codes are delivered; 'log' (development) logs them."
    )
    # Password logins (docs/identity.md argues the numbers): attempts free of any wait per key,
    # then a wait of base, 2 × base, 4 × base … up to the key's cap.
    login_max_failures: int = Field(
        default=5, ge=1, description="Wrong passwords per (account, address) before back-off."
    )
    login_client_max_failures: int = Field(
        default=20, ge=1, description="Wrong passwords per client address (any accounts)."
    )
    login_account_max_failures: int = Field(
        default=30, ge=1, description="Wrong passwords per account (from unvouched addresses)."
    )
    login_window_s: int = Field(
        default=3_600, ge=60, description="Account: its count's window; others: quiet to restart."
    )
    login_backoff_base_s: float = Field(default=1.0, gt=0, le=60, description="First wait.")
    login_backoff_cap_s: int = Field(
        default=900, ge=1, description="Longest wait of the pair and address keys."
    )
    login_account_backoff_cap_s: int = Field(
        default=60, ge=1, le=300, description="Longest wait of the account key: kept short."
    )
    login_trusted_s: int = Field(
        default=30 * 86_400, ge=0, description="How long a success vouches for its address."
    )


class HealthCodeSettings(BaseSettings):
    """The health code (健康码) (``ONEMAP_HEALTH_…``): its signed token and QR code."""

    model_config = _config("ONEMAP_HEALTH_")

    audience: str = Field(
        default="onemap-health-code",
        description="aud of health-code tokens; subjects are pairwise per audience.",
    )
    token_ttl_s: int = Field(default=180, ge=30, le=300, description="At most 5 minutes.")
    pseudonym_secret_file: Path | None = Field(
        default=None,
        description="Secret for pairwise subjects; unset: derived from the signing key.",
    )


class MobileSettings(BaseSettings):
    """The citizen API and Open311 (``ONEMAP_MOBILE_…``): upload bounds, paging, windows."""

    model_config = _config("ONEMAP_MOBILE_")

    max_json_bytes: int = Field(default=64 * 1024, ge=1024)
    max_photos: int = Field(default=5, ge=0, le=20)
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photo_px: int = Field(default=2048, ge=256)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    duplicate_radius_m: float = Field(default=250.0, gt=0, le=2000)
    page_size: int = Field(default=20, ge=1, le=100)
    open311_window_days: int = Field(default=90, ge=1)
    open311_max_requests: int = Field(default=1000, ge=1)
    open311_jurisdiction: str = "onemap.demo"
    holidays: list[str] = Field(
        default_factory=list, description="Public holidays (YYYY-MM-DD): not working days."
    )
    makeup_workdays: list[str] = Field(
        default_factory=list, description="Weekend days worked (调休, YYYY-MM-DD)."
    )


class OgcSettings(BaseSettings):
    """OGC API - Features and Tiles at ``/ogc`` (``ONEMAP_OGC_…``)."""

    model_config = _config("ONEMAP_OGC_")

    title: str = "OneMap (一张图) OGC API"
    description: str = "The city's one map: areas, the management grid, facilities, cameras, cases."
    default_limit: int = Field(default=100, ge=1)
    max_limit: int = Field(default=10_000, ge=1)
    count_cap: int = Field(
        default=10_000,
        ge=0,
        description="A full first page counts its matches up to this many in its own "
        "statement (exact at most the cap).",
    )
    count_budget_ms: int = Field(
        default=2_000,
        ge=0,
        description="Above the cap, a first page without a bbox (a whole layer, as GDAL and "
        "QGIS open it) is counted exactly within this time; numberMatched is omitted when the "
        "count takes longer (0: never).",
    )
    next_limit: int = Field(
        default=1_000,
        ge=0,
        description="A next link asks for up to ten times the page's limit, up to this (or "
        "the page's own limit when larger): clients that start small, such as GDAL's 10, then "
        "page in big pages. 0: next links keep the client's limit.",
    )
    tile_feature_cap: int = Field(
        default=10_000,
        ge=1,
        description="Features per vector tile: a point layer's tile holding more is aggregated "
        "(counts on a grid, docs/ogc.md); a polygon layer's holds this many.",
    )
    tile_max_zoom: int = Field(default=22, ge=0, le=24)
    tile_cache_s: int = Field(default=60, ge=0, description="Cache-Control max-age of tiles.")
    tile_cache_mb: int = Field(
        default=256,
        ge=0,
        description="The in-process tile cache's size (least recently used tiles go first); "
        "0: no cache. Not used when tile_cache_url is set.",
    )
    tile_cache_url: str | None = Field(
        default=None,
        description="redis://… : a tile cache shared by every process (Redis), instead of the "
        "in-process one.",
    )
    tile_cache_ttl_s: int = Field(
        default=3600, ge=1, description="A cached tile is dropped after this at the latest."
    )
    tile_cache_prefix: str = Field(
        default="onemap:tiles",
        description="Redis key prefix (the database name is appended: one Redis may serve "
        "several cities).",
    )
    sync_pool_size: int = Field(default=4, ge=1, description="Connections for pygeoapi's threads.")
    pool_size: int = Field(
        default=16,
        ge=1,
        description="Connections for items and tiles (besides the app's pool): tiles are "
        "PostgreSQL's work, and as many statements in flight as clients keep its disk and "
        "cores busy (with 8, cold tiles ran at 0.8 of the same statements run straight; with "
        "16, at 0.9-1.05: bench/results/ogc-2026-11-30-scale10-quiet.md).",
    )
    download_max: int = Field(
        default=1_000_000,
        ge=1,
        description="The most features one download (f=csv, f=gpkg) may hold: a larger "
        "selection is a 400 asking for a narrower one, or for a limit up to this.",
    )
    key_usage_flush_s: float = Field(
        default=5.0,
        gt=0,
        description="API keys' usage (requests, features, bytes per day and dataset) is "
        "counted in memory and written every this many seconds (docs/open-data.md).",
    )
    catalogue_cache_s: float = Field(
        default=300.0,
        ge=0,
        description="The open-data catalogue's extents and counts (/open) are recomputed at "
        "most this often.",
    )
    download_slots: int = Field(
        default=4,
        ge=1,
        description="Downloads served at once by one process (each holds a database "
        "connection while it streams); one more is a 503 with Retry-After.",
    )
    csv_bom: bool = Field(
        default=True,
        description="Begin CSV downloads with a UTF-8 byte order mark, so Excel (which reads "
        "a CSV without one in the system code page, GBK on Chinese Windows) shows Chinese.",
    )


class StreamSettings(BaseSettings):
    """Live camera video over WHEP (``ONEMAP_STREAMS_…``)."""

    model_config = _config("ONEMAP_STREAMS_")

    ice_host_addresses: list[str] = Field(
        default_factory=list,
        description="Addresses offered as ICE host candidates; empty: every interface but "
        "loopback (aioice's default). ['127.0.0.1'] for viewers on this machine only.",
    )
    open_timeout_s: float = Field(default=5.0, gt=0, description="A source must open in this.")
    read_timeout_s: float = Field(default=10.0, gt=0, description="A live source may stall this.")
    idle_stop_s: float = Field(default=5.0, ge=0, description="Source kept after the last viewer.")
    offline_retry_s: float = Field(
        default=5.0, gt=0, description="Retry-After of an offline camera; no re-open before it."
    )
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Backoff cap, dropped source.")
    connect_timeout_s: float = Field(default=15.0, gt=0, description="ICE+DTLS must connect.")
    max_sessions: int = Field(default=200, ge=1, description="Viewing sessions per process.")
    max_session_s: float = Field(default=4 * 3600, gt=0, description="A session then ends.")
    gop_s: float = Field(default=1.0, gt=0, description="Keyframe interval when we encode.")
    bitrate: int = Field(default=1_500_000, ge=100_000, description="When we encode (bit/s).")
    relay_queue_packets: int = Field(default=64, ge=4, description="Per viewer, then skip.")
    status_heartbeat_s: float = Field(default=60.0, gt=0, description="last_seen_at refresh.")
    open_threads: int = Field(default=8, ge=1, description="Threads that open sources.")
    # Cameras across processes (docs/streams.md): one relay per camera in the whole cluster.
    internal_host: str = Field(
        default="127.0.0.1",
        description="Address this process binds for other processes to pull its relays from, "
        "recorded in the camera's lease: the host's cluster address when hosts > 1.",
    )
    internal_port: int = Field(
        default=0, ge=0, le=65535, description="Its port; 0: a free one per process."
    )
    internal_secret: SecretStr | None = Field(
        default=None,
        description="Key of the tokens between processes; unset: derived from the JWT "
        "signing key, which every process of one deployment shares.",
    )
    lease_ttl_s: float = Field(
        default=5.0, gt=0, description="A relay's lease expires this long after its renewal."
    )
    lease_renew_s: float = Field(default=1.0, gt=0, description="The owner renews this often.")
    public_url: str | None = Field(
        default=None,
        description="This process's own public base URL, when each is routable (recorded in "
        "its leases; with redirect_to_owner other processes send viewers there).",
    )
    redirect_to_owner: bool = Field(
        default=False,
        description="Answer 307 with the owner's WHEP URL (when it has a public_url) instead "
        "of relaying its camera through this process.",
    )

    @model_validator(mode="after")
    def _renewed_in_time(self) -> StreamSettings:
        if self.lease_renew_s * 2 > self.lease_ttl_s:
            raise ValueError("lease_renew_s must be at most half of lease_ttl_s")
        return self


class GraphQLSettings(BaseSettings):
    """GraphQL (``ONEMAP_GRAPHQL_…``): page sizes and the limits that guard the parser."""

    model_config = _config("ONEMAP_GRAPHQL_")

    default_first: int = Field(default=100, ge=1)
    max_first: int = Field(default=1000, ge=1)
    #: A connection's totalCount is exact up to this many rows, null above (ONEMAP_GRAPHQL_…).
    total_count_cap: int = Field(default=100_000, ge=1)
    max_radius_m: float = Field(default=5_000.0, gt=0, description="Cap of near/incident radii.")
    max_depth: int = Field(default=10, ge=2)
    max_aliases: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=5_000, ge=100)
    compiled_pages: bool = Field(
        default=True, description="Render plain pages in SQL (server/gql/compiled.py)."
    )
    # What an operation may cost (fields × rows, estimated before it runs: server/gql/cost.py).
    cost_budget_anonymous: int = Field(default=25_000, ge=100)
    cost_budget_citizen: int = Field(default=25_000, ge=100)
    cost_budget_staff: int = Field(default=30_000, ge=100)
    heavy_cost: int = Field(default=5_000, ge=1, description="Above it: a heavy-query slot.")
    heavy_concurrency: int = Field(
        default=1, ge=1, description="Heavy queries at once, per process (one core left free)."
    )
    heavy_wait_s: float = Field(default=10.0, gt=0, description="Wait for a slot, then 503.")
    max_stats_buckets: int = Field(default=10_000, ge=1, description="caseStats' largest limit.")
    population_min_count: int = Field(
        default=5,
        ge=1,
        description="Population counts from 1 to this minus 1 are withheld "
        "(geo/population_disclosure.py, docs/base-data.md); 1 publishes every count.",
    )


class ClockSettings(BaseSettings):
    """Case clocks (``ONEMAP_CLOCK_…``): the city's working hours and calendar, and when a
    clock warns. The official holidays and adjusted working days come from chinese-calendar;
    the two lists here correct it or add years it does not know yet."""

    model_config = _config("ONEMAP_CLOCK_")

    timezone: str = Field(default="Asia/Shanghai", description="The city's time zone.")
    workday_start: time = Field(default=time(9, 0), description="Working hours begin (local).")
    workday_end: time = Field(default=time(17, 0), description="Working hours end (local).")
    warning_share: float = Field(
        default=0.8, gt=0, le=1, description="A clock warns past this share of its limit."
    )
    holidays: list[date] = Field(
        default_factory=list, description="Extra days off (YYYY-MM-DD), over the official ones."
    )
    makeup_workdays: list[date] = Field(
        default_factory=list, description="Extra days worked (调休, YYYY-MM-DD)."
    )

    @model_validator(mode="after")
    def _hours_in_order(self) -> ClockSettings:
        if self.workday_end <= self.workday_start:
            raise ValueError("ONEMAP_CLOCK_WORKDAY_END must be after ONEMAP_CLOCK_WORKDAY_START.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Unknown time zone {self.timezone!r}.") from exc
        return self

    def rules(self) -> ClockRules:
        """The clock rules these settings describe (geo.services.clocks)."""
        calendar = Calendar(frozenset(self.holidays), frozenset(self.makeup_workdays), True)
        hours = WorkingTime(calendar, self.workday_start, self.workday_end, ZoneInfo(self.timezone))
        return ClockRules(hours, self.warning_share)


class SupervisionSettings(BaseSettings):
    """Supervision (督办, ``ONEMAP_SUPERVISION_…``): how often the sweep runs and when overdue
    cases escalate (docs/daily-loop.md)."""

    model_config = _config("ONEMAP_SUPERVISION_")

    sweep_seconds: float = Field(
        default=60.0, ge=0, description="Seconds between sweeps in each server process (one "
        "sweeps at a time, under an advisory lock); 0 runs none (use `onemap sweep`).",
    )  # fmt: skip
    escalate_after: int = Field(
        default=240, ge=1, le=14_400, description="Working minutes overdue before a case "
        "escalates to the district; as many more to the city.",
    )  # fmt: skip

    def rules(self) -> SupervisionRules:
        return SupervisionRules(self.escalate_after)


class HotlineSettings(BaseSettings):
    """Hotline intake and callback (市民热线, 回访; ``ONEMAP_HOTLINE_…``, docs/daily-loop.md)."""

    model_config = _config("ONEMAP_HOTLINE_")

    similar_radius_m: float = Field(
        default=200, gt=0, le=5000,
        description="Similar-case suggestions: open cases within this many metres of the call.",
    )  # fmt: skip
    similar_days: int = Field(
        default=7, ge=1, le=365,
        description="Similar-case suggestions: cases reported in the last this many days.",
    )  # fmt: skip
    similar_limit: int = Field(default=10, ge=1, le=50, description="Suggestions at most.")
    callback_due_working_hours: int = Field(
        default=8, ge=1, le=240,
        description="A callback (回访) is due this many working hours after the close.",
    )  # fmt: skip
    callback_attempts: int = Field(
        default=2, ge=1, le=10,
        description="Unreachable attempts after which the callback task ends as unreachable.",
    )  # fmt: skip


class EmergencySettings(BaseSettings):
    """Emergency command (``ONEMAP_EMERGENCY_…``, docs/emergency.md)."""

    model_config = _config("ONEMAP_EMERGENCY_")

    weather_provider: Literal["synthetic"] = Field(
        default="synthetic",
        description="Where an incident's weather comes from (geo.weather.PROVIDERS): the "
        "deterministic synthetic demo provider; a real one implements geo.weather's Protocol.",
    )


class SensorSettings(BaseSettings):
    """The SensorThings API (``ONEMAP_STA_…``, docs/sensors.md): page sizes, bodies, how far
    ahead observations' monthly partitions are made, and when a quiet device is offline."""

    model_config = _config("ONEMAP_STA_")

    default_top: int = Field(
        default=100, ge=1, le=10_000, description="Entities a page holds when $top is not given."
    )
    max_top: int = Field(default=1000, ge=1, le=10_000, description="The largest $top allowed.")
    max_body_mib: int = Field(
        default=16, ge=1, le=512, description="The largest request body (CreateObservations)."
    )
    partitions_ahead_months: int = Field(
        default=3, ge=0, le=36,
        description="Monthly observation partitions made ahead at each start of the server.",
    )  # fmt: skip
    default_period_seconds: float = Field(
        default=300.0, gt=0, le=7 * 86_400,
        description="Seconds between a Datastream's readings when its properties.period "
        "does not say (offline detection).",
    )  # fmt: skip
    offline_missed_periods: int = Field(
        default=3, ge=1, le=1_000,
        description="A Datastream that missed this many periods is offline (the sweep).",
    )  # fmt: skip
    retention_months: int = Field(
        default=0, ge=0, le=1200,
        description="Whole months of Observations kept (older monthly partitions are dropped "
        "by the daily sweep, docs/sensors.md); 0 keeps every one.",
    )  # fmt: skip
    retention_sweep_hours: float = Field(
        default=24, ge=0, description="Hours between retention sweeps; 0 runs none (use "
        "`onemap sensors retention`).",
    )  # fmt: skip


def _mqtt_password_file() -> Path:
    return DataSettings().dir / "secrets" / "mqtt-server-password"


class MqttSettings(BaseSettings):
    """MQTT ingest through Mosquitto (``ONEMAP_MQTT_…``, docs/sensors.md): where the broker is,
    the server's own account, how observations are batched, where the generated password and
    ACL files go."""

    model_config = _config("ONEMAP_MQTT_")

    enabled: bool = Field(default=False, description="Run the MQTT ingest (one process does).")
    host: str = Field(default="127.0.0.1", description="The broker's main listener.")
    port: int = Field(default=1883, ge=1, le=65535)
    device_port: int = Field(
        default=1884, ge=1, le=65535,
        description="The devices' listener (its topics mounted under `device_prefix`).",
    )  # fmt: skip
    device_prefix: str = Field(
        default="devices/", description="The mount_point of the devices' listener."
    )
    username: str = Field(default="onemap-server", description="The server's broker account.")
    password: SecretStr | None = Field(
        default=None, description="Its password; unset: read (or made) in `password_file`."
    )
    password_file: Path = Field(default_factory=_mqtt_password_file)
    client_id: str = Field(
        default="onemap-ingest", description="Fixed: the broker keeps its session while away."
    )
    batch_size: int = Field(default=5000, ge=1, le=50_000, description="Readings per statement.")
    flush_ms: float = Field(
        default=20, gt=0, le=5000, description="A batch is stored after this long at the latest."
    )
    config_dir: Path | None = Field(
        default=None, description="Where the server keeps Mosquitto's password_file and "
        "acl_file up to date (unset: only `onemap mqtt config` writes them).",
    )  # fmt: skip
    broker_pid_file: Path | None = Field(
        default=None, description="A Mosquitto the server manages: sent SIGHUP after the files "
        "change, so it reloads them.",
    )  # fmt: skip
    refresh_s: float = Field(default=10, gt=0, description="Seconds between ACL refreshes.")
    republish_qos: int = Field(
        default=1, ge=0, le=1, description="QoS of the stored Observations republished to "
        "subscribers (0: cheaper; an offline subscriber's session then queues none).",
    )  # fmt: skip

    def login_password(self) -> str:
        if self.password is not None:
            return self.password.get_secret_value()
        return _read_or_make_secret(self.password_file)


class Settings(BaseModel):
    """All of OneMap's settings, built once and passed down."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    health: HealthCodeSettings = Field(default_factory=HealthCodeSettings)
    mobile: MobileSettings = Field(default_factory=MobileSettings)
    ogc: OgcSettings = Field(default_factory=OgcSettings)
    streams: StreamSettings = Field(default_factory=StreamSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    hotline: HotlineSettings = Field(default_factory=HotlineSettings)
    sta: SensorSettings = Field(default_factory=SensorSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    emergency: EmergencySettings = Field(default_factory=EmergencySettings)
    warnings: WarningSettings = Field(default_factory=WarningSettings)
    geocode: GeocodeSettings = Field(default_factory=GeocodeSettings)

    @classmethod
    def from_env(cls) -> Settings:
        """Every concern read from the environment (and .env) now: each field's default factory
        is its pydantic-settings class."""
        return cls()
