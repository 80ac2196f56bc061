"""Geocoding's settings (``ONEMAP_GEOCODE_…``, docs/geocoding.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GeocodeSettings(BaseSettings):
    """How sure an address must be to place a case without coordinates, and how many
    candidates an answer lists."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_GEOCODE_", env_file=".env", extra="ignore")

    min_confidence: float = Field(
        default=0.75, ge=0, le=1,
        description="A report, call or Open311 request with an address and no coordinates is "
        "placed at the best match when its confidence is at least this; below it, refused with "
        "the candidates for the caller to confirm.",
    )  # fmt: skip
    max_candidates: int = Field(default=5, ge=1, le=20, description="Candidates listed at most.")
