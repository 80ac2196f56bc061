"""A warning as an officer sends it, checked before anything is written (预警发布).

Every refusal is an ``InvalidInput`` naming the field: unknown CAP values, a ring that is not
closed, times out of order, a language's text missing. What needs the database (the polygon's
validity as PostGIS sees it, the city's boundary) is checked by the writer
(``geo.services.warnings``) in the same transaction as the insert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from geo.errors import InvalidInput
from geo.warning_enums import (
    ISSUABLE_STATUSES,
    LANGUAGES,
    CapCategory,
    CapCertainty,
    CapSeverity,
    CapUrgency,
)

#: Required in both languages; the others may be empty.
REQUIRED_TEXTS = ("event", "headline", "description")
#: CAP 1.2 asks headlines to stay under 160 characters (text messages).
MAX_LENGTH = {
    "event": 200,
    "headline": 160,
    "description": 4000,
    "instruction": 4000,
    "sender_name": 200,
}
MAX_POSITIONS = 5000


@dataclass(frozen=True)
class WarningDraft:
    """The content of an Alert or an Update. ``area`` is a GeoJSON Polygon or MultiPolygon
    (lon, lat; rings closed); ``texts`` maps each of LANGUAGES to its event, headline,
    description, instruction and sender_name."""

    category: str
    urgency: str
    severity: str
    certainty: str
    expires: datetime
    texts: Mapping[str, Mapping[str, str | None]]
    area_desc: str
    area: Mapping[str, Any]
    status: str = "Actual"
    effective: datetime | None = None  # None: now
    onset: datetime | None = None
    incident_id: int | None = None


@dataclass(frozen=True)
class CleanDraft:
    status: str
    category: str
    urgency: str
    severity: str
    certainty: str
    effective: datetime
    onset: datetime | None
    expires: datetime
    texts: dict[str, dict[str, str]]
    area_desc: str
    area: dict[str, Any]
    incident_id: int | None


def _one_of(value: str, enum: type[StrEnum], name: str, allowed: Any = None) -> str:
    choices = [m.value for m in (allowed or enum)]
    if value not in choices:
        raise InvalidInput(
            f"{name} must be one of {', '.join(choices)}; got {value!r}.", field=name
        )
    return value


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. +08:00).", field=name)
    return value.astimezone(UTC).replace(microsecond=0)  # CAP times are to the second


def _texts(given: Mapping[str, Mapping[str, str | None]], default_sender: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(LANGUAGES))
    if unknown:
        raise InvalidInput(
            f"Texts are given in {', '.join(LANGUAGES)}; not in {unknown[0]}.", field="texts"
        )
    texts: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        block = given.get(language) or {}
        clean = {k: (block.get(k) or "").strip() for k in MAX_LENGTH}
        for name in REQUIRED_TEXTS:
            if not clean[name]:
                raise InvalidInput(
                    f"The {language} {name} is missing: every warning is issued in Chinese "
                    "(zh-CN) and English (en-US).",
                    field=f"texts.{language}.{name}",
                )
        for name, most in MAX_LENGTH.items():
            if len(clean[name]) > most:
                raise InvalidInput(
                    f"The {language} {name} is longer than {most} characters.",
                    field=f"texts.{language}.{name}",
                )
        clean["sender_name"] = clean["sender_name"] or default_sender
        texts[language] = clean
    return texts


def _position(p: Any) -> list[float]:
    if (
        not isinstance(p, list | tuple)
        or len(p) != 2
        or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in p
        )
    ):
        raise InvalidInput(
            "Each position of the area is [lon, lat], two finite numbers.", field="area"
        )
    lon, lat = float(p[0]), float(p[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"The position [{lon}, {lat}] is not a lon/lat.", field="area")
    return [lon, lat]


def _polygon(rings: Any) -> list[list[list[float]]]:
    if not isinstance(rings, list) or not rings:
        raise InvalidInput("A polygon is a list of rings (the outer one first).", field="area")
    out = []
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise InvalidInput(
                "A ring needs at least 4 positions (3 corners, then the first again to close it).",
                field="area",
            )
        positions = [_position(p) for p in ring]
        if positions[0] != positions[-1]:
            raise InvalidInput(
                f"The area's ring is not closed: it starts at {positions[0]} and ends at "
                f"{positions[-1]}; repeat the first position at the end.",
                field="area",
            )
        out.append(positions)
    return out


def check_area(area: Mapping[str, Any]) -> dict[str, Any]:
    """The area as a GeoJSON MultiPolygon, its rings closed and positions lon/lat."""
    kind = area.get("type") if isinstance(area, Mapping) else None
    coordinates = area.get("coordinates") if isinstance(area, Mapping) else None
    if kind == "Polygon":
        polygons = [_polygon(coordinates)]
    elif kind == "MultiPolygon" and isinstance(coordinates, list) and coordinates:
        polygons = [_polygon(p) for p in coordinates]
    else:
        raise InvalidInput(
            "The area is a GeoJSON Polygon or MultiPolygon (lon, lat).", field="area"
        )
    if sum(len(r) for p in polygons for r in p) > MAX_POSITIONS:
        raise InvalidInput(f"The area has more than {MAX_POSITIONS} positions.", field="area")
    return {"type": "MultiPolygon", "coordinates": polygons}


def check(draft: WarningDraft, *, now: datetime, default_sender: str) -> CleanDraft:
    """The draft, checked: InvalidInput naming the first field that is wrong."""
    status = _one_of(draft.status, type(ISSUABLE_STATUSES[0]), "status", ISSUABLE_STATUSES)
    effective = _aware(draft.effective, "effective") if draft.effective else now
    expires = _aware(draft.expires, "expires")
    onset = _aware(draft.onset, "onset") if draft.onset else None
    if expires <= effective:
        raise InvalidInput(
            f"expires ({expires.isoformat()}) must be after effective ({effective.isoformat()}).",
            field="expires",
        )
    if expires <= now:
        raise InvalidInput(
            "expires is in the past: the warning would never be shown.", field="expires"
        )
    if onset is not None and onset >= expires:
        raise InvalidInput("onset must be before expires.", field="onset")
    area_desc = (draft.area_desc or "").strip()
    if not area_desc or len(area_desc) > 500:
        raise InvalidInput(
            "area_desc (the area's name, e.g. 兴庆区 / Xingqing District) needs 1 "
            "to 500 characters.",
            field="area_desc",
        )
    if draft.incident_id is not None and draft.incident_id <= 0:
        raise InvalidInput("incident_id is a positive integer.", field="incident_id")
    return CleanDraft(
        status=status,
        category=_one_of(draft.category, CapCategory, "category"),
        urgency=_one_of(draft.urgency, CapUrgency, "urgency"),
        severity=_one_of(draft.severity, CapSeverity, "severity"),
        certainty=_one_of(draft.certainty, CapCertainty, "certainty"),
        effective=effective,
        onset=onset,
        expires=expires,
        texts=_texts(draft.texts, default_sender),
        area_desc=area_desc,
        area=check_area(draft.area),
        incident_id=draft.incident_id,
    )
