"""Search the one map by name or number: facilities, grid cells, communities, streets and
districts by any part of their Chinese or English name or their code, cases by public id, and
case categories by name — typo-tolerant (pg_trgm word similarity), nearest first when a point
is given, best match first otherwise.

Each source reads through the caller's layer view (``geo.access``): the public never finds a
hazard source, and a case found by its public id is the caller's record of it (the public one
has a generalised position). Every value is a bind parameter.

Scores: 1 for an exact name or code, 0.95 for a prefix, 0.9 for a substring, else the word
similarity (× 0.85, so a typo never outranks a true substring). A match needs a substring or
a word similarity of at least pg_trgm's ``word_similarity_threshold`` (0.6).
"""

# ruff: noqa: S608 - SQL text here is built from our constants (columns, tables, the views'
# row filters); every value a caller gives is a bind parameter.
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput
from geo.layers import LayerView
from geo.params import LonLat
from geo.queries import Query, Rows

MAX_TEXT = 100


class HitKind(StrEnum):
    FACILITY = "FACILITY"
    CASE = "CASE"
    CATEGORY = "CATEGORY"
    GRID_CELL = "GRID_CELL"
    COMMUNITY = "COMMUNITY"
    STREET = "STREET"
    DISTRICT = "DISTRICT"


@dataclass(frozen=True, slots=True)
class Hit:
    kind: HitKind
    id: str
    title_zh: str
    title_en: str
    subtitle: str | None
    score: float
    lon: float | None
    lat: float | None
    distance_m: float | None


def _score(column: str) -> str:
    return (
        f"CASE WHEN lower({column}) = lower(%(q)s) THEN 1.0 "
        f"WHEN {column} ILIKE %(prefix)s THEN 0.95 "
        f"WHEN {column} ILIKE %(infix)s THEN 0.9 "
        f"ELSE word_similarity(%(q)s, {column}) * 0.85 END"
    )


def _matches(*columns: str) -> str:
    return " OR ".join(f"{c} ILIKE %(infix)s OR %(q)s <%% {c}" for c in columns)


def _named(kind: str, table: str, row_filter: str, zh: str, en: str, subtitle: str,
           code: str, extra: str = "TRUE") -> str:  # fmt: skip
    """A source of named rows: kind, id, titles, subtitle, score, geometry."""
    exact = f"{code} IN (%(q)s, upper(%(q)s))"  # codes: exact, any case
    score = f"greatest({_score(zh)}, {_score(en)}, CASE WHEN {exact} THEN 1.0 END)"
    return (
        f"SELECT {kind} AS kind, t.id::text AS id, {zh} AS title_zh, {en} AS title_en, "
        f"{subtitle} AS subtitle, {score} AS score, t.geom AS geom FROM {table} t "
        f"WHERE ({row_filter}) AND ({extra}) AND ({_matches(zh, en)} OR {exact})"
    )


_AREA_KIND = "upper(CASE t.level WHEN 'district' THEN 'district' WHEN 'street' THEN 'street' " \
    "ELSE 'community' END)"  # fmt: skip


def _sources(views: dict[str, LayerView], kinds: frozenset[HitKind]) -> list[str]:
    out: list[str] = []
    facilities = views.get("facilities")
    if HitKind.FACILITY in kinds and facilities is not None:
        out.append(_named("'FACILITY'", facilities.table, facilities.row_filter, "t.name_zh",
                          "t.name_en", "t.category", "t.code"))  # fmt: skip
    if HitKind.GRID_CELL in kinds:
        out.append(_named("'GRID_CELL'", "grid_cells", "TRUE", "t.name", "t.name", "t.code",
                          "t.code"))  # fmt: skip
    levels = [k.value.lower() for k in (HitKind.DISTRICT, HitKind.STREET, HitKind.COMMUNITY)
              if k in kinds]  # fmt: skip
    if levels:
        wanted = ", ".join(f"'{level}'" for level in levels)  # our constants, never input
        out.append(_named(_AREA_KIND, "admin_areas", "TRUE", "t.name_zh", "t.name_en",
                          "t.code", "t.code", f"t.level IN ({wanted})"))  # fmt: skip
    cases = views.get("cases")
    if HitKind.CASE in kinds and cases is not None:
        out.append(
            "SELECT 'CASE', t.id::text, t.public_id, t.public_id, t.category, 1.0, t.geom "
            f"FROM {cases.table} t WHERE ({cases.row_filter}) AND t.public_id = %(q)s"
        )
    if HitKind.CATEGORY in kinds:
        score = f"greatest({_score('c.name_zh')}, {_score('c.name_en')}, {_score('c.code')})"
        out.append(
            f"SELECT 'CATEGORY', c.code, c.name_zh, c.name_en, NULL, {score}, NULL::geometry "
            f"FROM case_categories c WHERE {_matches('c.name_zh', 'c.name_en', 'c.code')}"
        )
    return out


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    text: str,
    views: dict[str, LayerView],
    kinds: frozenset[HitKind],
    *,
    near: LonLat | None = None,
    limit: int = 10,
) -> Query[list[Hit]]:
    """The best ``limit`` hits for ``text`` among ``kinds`` (``views``: the caller's views of
    facilities and cases; absent means the caller reads none)."""
    q = " ".join(text.split())
    if len(q) < 2:
        raise InvalidInput("text must hold at least two characters besides spaces.")
    if len(q) > MAX_TEXT:
        raise InvalidInput(f"text is longer than {MAX_TEXT} characters.")
    if "\x00" in q:
        raise InvalidInput("text cannot contain a NUL character.")
    sources = _sources(views, kinds)
    if not sources:
        return Query(sql.SQL("SELECT 1 WHERE FALSE"), {}, lambda rows: [])
    escaped = _like_escaped(q)
    params: dict[str, Any] = {"q": q, "prefix": escaped + "%", "infix": f"%{escaped}%",
                              "limit": limit}  # fmt: skip
    point = "NULL::geometry"
    if near is not None:
        params.update(lon=near.lon, lat=near.lat)
        point = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
    distance = f"ST_Distance(h.geom::geography, {point}::geography)"
    # With a point: good matches (a substring, or all words nearly right) nearest first, then
    # weaker ones; places without a point (categories) last. Without: best first.
    order = f"h.score >= 0.8 DESC, {distance} NULLS LAST, h.score DESC" if near else "h.score DESC"
    union = " UNION ALL ".join(f"({s})" for s in sources)
    statement = (
        "SELECT h.kind, h.id, h.title_zh, h.title_en, h.subtitle, h.score::float8, "
        "ST_X(ST_PointOnSurface(h.geom)), ST_Y(ST_PointOnSurface(h.geom)), "
        f"CASE WHEN h.geom IS NULL THEN NULL ELSE {distance} END "
        f"FROM ({union}) h(kind, id, title_zh, title_en, subtitle, score, geom) "
        f"ORDER BY {order}, length(h.title_zh), h.kind, h.id LIMIT %(limit)s"
    )

    def decode(rows: Rows) -> list[Hit]:
        return [Hit(HitKind(r[0]), r[1], r[2], r[3], r[4], float(r[5]), r[6], r[7],
                    None if r[8] is None else float(r[8])) for r in rows]  # fmt: skip

    # The trigram indexes answer in ~20 ms where a scan computing similarities row by row takes
    # ~10 µs a row (0.2 s at the demo city's 20,000 facilities); the planner guesses otherwise.
    # Disabled scans cost 10^10 in its sums, which would start JIT compiling (~0.5 s): off too.
    local = (("enable_seqscan", "off"), ("jit", "off"))
    return Query(sql.SQL(statement), params, decode, local=local)
