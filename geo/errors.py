"""Domain errors. Surfaces map them to statuses in one table (``server.kernel.errors``)."""

from __future__ import annotations

from typing import Any


class OneMapError(Exception):
    """Base of the domain errors: ``code`` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(OneMapError):
    code = "invalid_input"


class OutsideCity(InvalidInput):
    code = "outside_city"


class AddressUncertain(InvalidInput):
    """An address without coordinates that the address base cannot place surely enough:
    ``candidates`` (in the detail) are what the caller may confirm; nothing was written."""

    code = "address_uncertain"


class NotFound(OneMapError):
    code = "not_found"


class Unauthorized(OneMapError):
    code = "unauthorized"


class Forbidden(OneMapError):
    code = "forbidden"


class Conflict(OneMapError):
    code = "conflict"


class Unavailable(OneMapError):
    """The service cannot answer now (the database is down, too many uploads in progress):
    try again after ``retry_after_s`` seconds (sent as ``Retry-After``)."""

    code = "unavailable"

    def __init__(self, message: str, retry_after_s: int | None = None, **detail: Any) -> None:
        if retry_after_s is not None:
            detail["retry_after"] = retry_after_s
        super().__init__(message, **detail)
        self.retry_after_s = retry_after_s
