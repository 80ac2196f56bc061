"""Settings of CAP warnings and their Web Push (``ONEMAP_WARNINGS_…``, docs/warnings.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.services.warnings import Issuer


class WarningSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONEMAP_WARNINGS_", env_file=".env", extra="ignore"
    )

    sender: str = Field(
        default="warnings@onemap.city.example",
        description="CAP <sender>: the address identifying the city's warning desk.",
    )
    sender_name: str = Field(
        default="OneMap 预警发布 / OneMap warnings",
        description="CAP <senderName> when an officer gives none.",
    )
    city: str = Field(
        default="city",
        pattern=r"^[a-z0-9]{1,32}$",
        description="The city's short name in identifiers: onemap-<city>-<yyyymmdd>-<n>.",
    )
    vapid_private_key_file: Path | None = Field(
        default=None,
        description="The VAPID key (P-256, PEM) signing Web Push requests; default: made on "
        "first run in the data directory (vapid-p256.pem).",
    )
    vapid_subject: str = Field(
        default="mailto:warnings@onemap.city.example",
        description="The VAPID 'sub' claim: how a push service reaches the operator.",
    )
    allow_loopback_push: bool = Field(
        default=False,
        description="Accept push endpoints on http://127.0.0.1 (local push services in tests "
        "and development); production endpoints are https only. Dev mode allows them too.",
    )
    push_timeout_s: float = Field(default=10.0, gt=0, le=120)
    push_concurrency: int = Field(default=8, ge=1, le=256)
    feed_limit: int = Field(default=200, ge=1, le=5000, description="Entries of the Atom feed.")

    def issuer(self) -> Issuer:
        return Issuer(sender=self.sender, sender_name=self.sender_name, city=self.city)
