"""Domain errors of the citizen surfaces beyond ``geo.errors``; the one table in
``server.kernel.errors`` maps them to 429, 413, 415 and 422."""

from __future__ import annotations

from typing import Any

from geo.errors import Conflict, InvalidInput, OneMapError


class RateLimited(OneMapError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int, **detail: Any) -> None:
        super().__init__(message, retry_after=retry_after_s, **detail)
        self.retry_after_s = retry_after_s


class TooLarge(InvalidInput):
    code = "too_large"


class UnsupportedMedia(InvalidInput):
    code = "unsupported_media_type"


class Unprocessable(InvalidInput):
    """Well-formed but refused: a reused Idempotency-Key with another payload, a form that
    does not match its schema."""

    code = "unprocessable"


class InFlight(Conflict):
    code = "request_in_flight"


class KeyReused(Unprocessable):
    code = "idempotency_key_reused"


class KeyMissing(InvalidInput):
    code = "idempotency_key_missing"
