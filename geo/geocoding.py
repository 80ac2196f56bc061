"""Placing an address that came without coordinates (a call, a report, an Open311 request):
the best match of the address base when it is sure enough, else AddressUncertain with the
candidates — never a guess. Surfaces call :func:`locate` at the edge, before the writer.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from psycopg import AsyncConnection

from geo.address_text import parse
from geo.errors import AddressUncertain, InvalidInput
from geo.geocode_rank import Candidate
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.geocode import geocode

MAX_TEXT = 200


def checked(text: str | None, field: str = "address") -> str:
    """The address text, stripped: 2 to MAX_TEXT characters, else InvalidInput."""
    value = (text or "").strip()
    if not 2 <= len(value) <= MAX_TEXT:
        raise InvalidInput(f"An address is 2 to {MAX_TEXT} characters (road and number, e.g. "
                           "新华路12号 or No. 12 Xinhua Road).", field=field)  # fmt: skip
    return value


def candidate_detail(c: Candidate) -> dict[str, Any]:
    """A candidate as errors and answers list it."""
    return {**asdict(c), "matched": list(c.matched)}


async def locate(
    conn: AsyncConnection[Any], text: str | None, min_confidence: float, limit: int = 5,
    field: str = "address",
) -> tuple[LonLat, Candidate]:  # fmt: skip
    """The point of the best match of ``text`` and the match; AddressUncertain, with up to
    ``limit`` candidates, when the best is below ``min_confidence`` or nothing matches."""
    value = checked(text, field)
    found = await fetch(conn, geocode(parse(value), limit))
    if found and found[0].confidence >= min_confidence:
        return LonLat(found[0].lon, found[0].lat), found[0]
    listed = "; ".join(f"{c.label_zh} ({c.lon:.6f}, {c.lat:.6f}, confidence {c.confidence:.2f})"
                       for c in found)  # fmt: skip
    raise AddressUncertain(
        f"The address {value!r} matches no address of the city surely enough (at least "
        f"{min_confidence:.2f}): confirm one of the candidates by sending its coordinates, or "
        f"give the road and number. Candidates: {listed or 'none'}.",
        field=field, min_confidence=min_confidence,
        candidates=[candidate_detail(c) for c in found],
    )  # fmt: skip
