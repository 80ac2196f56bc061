"""Opaque keyset cursors: ``(time, id)`` of the last item, base64url. Stable under inserts."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from geo.errors import InvalidInput


class PageQuery(BaseModel):
    cursor: Annotated[str | None, Field(max_length=200, description="next_cursor of a page")] = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20


def encode(at: datetime, id_: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{id_}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, id_ = raw.partition("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, int(id_)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "cursor is not one this API gave out; start from the first page."
        ) from None
