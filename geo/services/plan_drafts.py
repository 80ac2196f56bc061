"""What a plan's version says, checked before it is written (geo.services.plans).

A draft is complete or refused: every response level I–IV has at least one measure; every
measure names a department and says what it does (Chinese, and English); resources are facility
categories with counts; the validity is ordered; the scope's area, if any, is a valid Polygon or
MultiPolygon. Departments are checked against the table when the version is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from geo.enums import FacilityCategory
from geo.errors import InvalidInput
from geo.plan_enums import ResponseLevel

MAX_TEXT = 2000
MAX_MEASURES = 50  # per level
MAX_COUNT = 10_000
MAX_DUE_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Resource:
    category: FacilityCategory
    count: int


@dataclass(frozen=True)
class MeasureDraft:
    text_zh: str
    text_en: str
    department_id: int
    resources: tuple[Resource, ...] = ()
    due_minutes: int = 60


@dataclass(frozen=True)
class PlanDraft:
    title_zh: str
    title_en: str
    issuing_body: str
    valid_from: date
    valid_to: date | None
    scope_text: str
    levels: dict[ResponseLevel, tuple[MeasureDraft, ...]]
    #: A GeoJSON Polygon or MultiPolygon (text), or None for the whole city.
    scope_area: str | None = None
    change_note: str = ""


def _text(value: str, what: str, required: bool = True) -> None:
    if required and not value.strip():
        raise InvalidInput(f"{what} is empty.", field=what)
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {MAX_TEXT}.",
                           field=what)  # fmt: skip


def check_area(geojson: str) -> str:
    """A GeoJSON Polygon or MultiPolygon (its validity as a geometry PostGIS checks)."""
    try:
        geometry = json.loads(geojson)
    except ValueError:
        raise InvalidInput("The area is not GeoJSON.", field="area") from None
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidInput("The area must be a GeoJSON Polygon or MultiPolygon.", field="area")
    return geojson


def check(draft: PlanDraft, revision: bool) -> PlanDraft:
    """The draft, when it is a complete plan version; InvalidInput saying what is wrong."""
    _text(draft.title_zh, "titleZh")
    _text(draft.title_en, "titleEn")
    _text(draft.issuing_body, "issuingBody")
    _text(draft.scope_text, "scopeText")
    _text(draft.change_note, "changeNote", required=revision)
    if draft.valid_to is not None and draft.valid_to < draft.valid_from:
        raise InvalidInput(f"validTo {draft.valid_to} is before validFrom {draft.valid_from}.",
                           field="validTo")  # fmt: skip
    if draft.scope_area is not None:
        check_area(draft.scope_area)
    missing = [lv.value for lv in ResponseLevel if not draft.levels.get(lv)]
    if missing:
        raise InvalidInput(f"Every response level needs at least one measure; level(s) "
                           f"{', '.join(missing)} have none.", field="levels")  # fmt: skip
    for level, measures in draft.levels.items():
        if len(measures) > MAX_MEASURES:
            raise InvalidInput(f"Level {level.value} has {len(measures)} measures; at most "
                               f"{MAX_MEASURES}.", field="levels")  # fmt: skip
        for n, m in enumerate(measures, start=1):
            where = f"level {level.value} measure {n}"
            _text(m.text_zh, f"{where}: textZh")
            _text(m.text_en, f"{where}: textEn")
            if not 0 < m.due_minutes <= MAX_DUE_MINUTES:
                raise InvalidInput(f"{where}: dueMinutes must be 1 to {MAX_DUE_MINUTES}, got "
                                   f"{m.due_minutes}.", field="dueMinutes")  # fmt: skip
            for r in m.resources:
                if not 0 < r.count <= MAX_COUNT:
                    raise InvalidInput(f"{where}: a resource count must be 1 to {MAX_COUNT}, "
                                       f"got {r.count}.", field="resources")  # fmt: skip
    return draft


def department_ids(draft: PlanDraft) -> set[int]:
    return {m.department_id for measures in draft.levels.values() for m in measures}
