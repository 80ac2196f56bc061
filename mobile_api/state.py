"""What the citizen endpoints share, built once by ``mobile_api.routes`` and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.queries import fetch
from geo.queries.services import departments
from geo.services.throttles import Limits
from geo.services.warnings import Issuer
from geo.services.workdays import Calendar
from server.kernel.auth.derived import secret
from server.kernel.auth.otp import OtpSender, sender_for
from server.kernel.auth.tokens import TokenService
from server.kernel.geocode_settings import GeocodeSettings
from server.kernel.settings import HealthCodeSettings, MobileSettings, Settings
from server.kernel.webpush import Pusher


@dataclass
class MobileState:
    settings: MobileSettings
    health: HealthCodeSettings
    limits: Limits
    tokens: TokenService
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    otp_pepper: bytes
    pseudonym_secret: bytes
    sender: OtpSender
    files_dir: Path
    jurisdiction: str
    #: Warnings: who they come from, and their Web Push (mobile_api.warnings).
    issuer: Issuer
    pusher: Pusher
    #: The city's time zone (ONEMAP_CLOCK_TIMEZONE): evaluation's days.
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    departments: dict[int, Any] = field(default_factory=dict)  # id → Department, read once
    #: How sure an address without coordinates must be (ONEMAP_GEOCODE_…).
    geocode: GeocodeSettings = field(default_factory=GeocodeSettings)

    @classmethod
    def build(
        cls,
        settings: Settings,
        tokens: TokenService,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
    ) -> MobileState:
        auth = settings.auth
        key = tokens.keys.private_key
        return cls(
            settings=settings.mobile,
            health=settings.health,
            limits=Limits(
                otp_ttl_s=auth.otp_ttl_s,
                window_s=auth.otp_window_s,
                per_phone=auth.otp_per_phone,
                per_client=auth.otp_per_client,
                max_attempts=auth.otp_max_attempts,
                client_max_attempts=auth.otp_client_max_attempts,
                login_max_failures=auth.login_max_failures,
                login_client_max_failures=auth.login_client_max_failures,
                login_account_max_failures=auth.login_account_max_failures,
                login_window_s=auth.login_window_s,
                login_backoff_base_s=auth.login_backoff_base_s,
                login_backoff_cap_s=auth.login_backoff_cap_s,
                login_account_backoff_cap_s=auth.login_account_backoff_cap_s,
                login_trusted_s=auth.login_trusted_s,
                refresh_ttl_s=auth.refresh_ttl_s,
            ),
            tokens=tokens,
            pool=pool,
            otp_pepper=secret(key, "otp-code"),
            pseudonym_secret=secret(key, "health-pseudonym", settings.health.pseudonym_secret_file),
            sender=sender_for(auth.otp_sender),
            files_dir=settings.data.dir / "files",
            zone=ZoneInfo(settings.clock.timezone),
            jurisdiction=settings.mobile.open311_jurisdiction,
            issuer=settings.warnings.issuer(),
            pusher=Pusher(settings, pool),
            geocode=settings.geocode,
        )

    @property
    def calendar(self) -> Calendar:
        return Calendar.of(self.settings.holidays, self.settings.makeup_workdays)

    async def department(self, conn: AsyncConnection[Any], department_id: int | None) -> Any:
        """A department's public name (cached: departments are reference data)."""
        if department_id is None:
            return None
        if department_id not in self.departments:
            self.departments.update(await fetch(conn, departments()))
        return self.departments.get(department_id)
