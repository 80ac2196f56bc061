"""How sure a geocoding match is: the rows geo.queries.geocode found, scored against what was
asked (geo.address_text.ParsedAddress), best first.

A candidate's confidence in [0, 1] multiplies what each part says:

- the road: the similarity of the road part to the road's name (difflib's ratio on the keys,
  which weighs a wrong character in a short Chinese name as the reader does), squared;
- the number: 1 when the door has it, ``OTHER_NUMBER`` for the nearest doors either side;
- the district and street: a text that names another candidate's district and not this one's
  costs ``WRONG_AREA``; naming this one's confirms nothing more (the road and number decide);
- the building: named and matching adds ``BUILDING_BONUS``; named and not matching costs
  ``WRONG_BUILDING``;
- ambiguity: when the runner-up (another door) scores within ``CLOSE`` of the best, the best is
  capped at ``AMBIGUOUS_CAP`` — two roads that fit a typo as well are a question, not an answer.

With no house number the matches come from the search text alone, and their confidence is at
most ``NO_NUMBER_CAP``: a caller is always asked to confirm which door.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import lru_cache

from geo.address_text import ParsedAddress, road_key

OTHER_NUMBER = 0.5
WRONG_AREA = 0.6
BUILDING_BONUS = 0.05
WRONG_BUILDING = 0.85
CLOSE = 0.1
AMBIGUOUS_CAP = 0.6
#: A road part that fits one road clearly better than any other (by ``LEAD``, at least
#: ``LEAD_FLOOR`` similar) with the door's number: one character wrong in a short name.
LEAD, LEAD_FLOOR = 0.2, 0.6
NO_NUMBER_CAP = 0.6
SWAPPED = 0.95


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    number: int
    road_zh: str
    road_en: str
    road_key: str
    building_zh: str | None
    building_en: str | None
    district_zh: str
    district_en: str
    street_zh: str
    street_en: str
    label_zh: str
    label_en: str
    grid_cell_id: int
    grid_cell_code: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """A geocoding answer: the address, where it is, how sure, and which parts matched."""

    address_id: int
    label_zh: str
    label_en: str
    road_zh: str
    road_en: str
    number: int
    building_zh: str | None
    district_zh: str
    street_zh: str
    grid_cell_id: int
    grid_cell_code: str
    lon: float
    lat: float
    confidence: float
    road_similarity: float
    #: The parts of the text that agree with this address: road, number, building, district…
    matched: tuple[str, ...]


@lru_cache(maxsize=65_536)
def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a.replace(" ", ""), b.replace(" ", "")).ratio()


def _letters(key: str) -> str:
    """Each word's letters in order: a transposition (Tiayuan for Taiyuan) compares equal."""
    return " ".join("".join(sorted(w)) for w in key.split())


def _road(parsed: ParsedAddress, key: str) -> float:
    """How like the road's key the road part is: difflib's ratio; in English also on each
    word's sorted letters (two letters swapped are the commonest typo), a little discounted."""
    best = max(_ratio(k, key) for k in parsed.road_keys)
    if parsed.lang == "en":
        swapped = max(_ratio(_letters(k), _letters(key)) for k in parsed.road_keys)
        best = max(best, SWAPPED * swapped)
    return best


def _short(name: str, lang: str) -> str:
    if lang == "zh":
        return name.removesuffix("街道").removesuffix("新区").removesuffix("区")
    return name.lower().removesuffix(" subdistrict").removesuffix(" district")


def _areas(parsed: ParsedAddress, row: Row) -> tuple[bool, bool]:
    zh = parsed.lang == "zh"
    district = _short(row.district_zh if zh else row.district_en, parsed.lang)
    street = _short(row.street_zh if zh else row.street_en, parsed.lang)
    return district in parsed.text, bool(street) and street in parsed.text


def _building(parsed: ParsedAddress, row: Row) -> bool | None:
    """None: no building named; else whether this door's building is the one named."""
    if not parsed.building:
        return None
    mine = row.building_zh if parsed.lang == "zh" else (row.building_en or "").lower()
    return bool(mine) and _ratio(parsed.building, mine or "") >= 0.6


def _score(parsed: ParsedAddress, row: Row, others: set[str]) -> Candidate:
    matched = []
    if parsed.road_keys:
        road = _road(parsed, row.road_key)
    else:  # the search text alone: how much of the label the words cover
        label = row.label_zh if parsed.lang == "zh" else row.label_en.lower()
        road = _ratio(parsed.text, road_key(label))
    if road >= 0.999:
        matched.append("road")
    score = road * road
    if parsed.number is not None and row.number == parsed.number:
        matched.append("number")
    elif parsed.number is not None:
        score *= OTHER_NUMBER
    in_district, in_street = _areas(parsed, row)
    matched += ["district"] * in_district + ["street"] * in_street
    if not in_district and others:  # the text names another candidate's district
        score *= WRONG_AREA
    building = _building(parsed, row)
    if building is True:
        matched.append("building")
        score = min(1.0, score + BUILDING_BONUS)
    elif building is False:
        score *= WRONG_BUILDING
    if parsed.number is None:
        score = min(score, NO_NUMBER_CAP)
    return Candidate(
        row.id, row.label_zh, row.label_en, row.road_zh, row.road_en, row.number,
        row.building_zh, row.district_zh, row.street_zh, row.grid_cell_id, row.grid_cell_code,
        row.lon, row.lat, round(score, 4), round(road, 4), tuple(matched),
    )  # fmt: skip


def _lead(ranked: list[Candidate]) -> list[Candidate]:
    """The best raised to ``(1 + road) / 2`` when its road leads every other road offering
    the same number by ``LEAD`` or more."""
    if not ranked or "number" not in ranked[0].matched:
        return ranked
    top = ranked[0]
    rivals = [c.road_similarity for c in ranked[1:] if "number" in c.matched]
    if top.road_similarity >= LEAD_FLOOR and all(r <= top.road_similarity - LEAD for r in rivals):
        ranked[0] = replace(top, confidence=max(top.confidence, (1 + top.road_similarity) / 2))
        ranked.sort(key=lambda c: (-c.confidence, c.address_id))
    return ranked


def rank(parsed: ParsedAddress, rows: list[Row], limit: int) -> list[Candidate]:
    """The rows scored, the best ``limit`` first (ties: the lower id)."""
    named = {r.district_zh for r in rows if _areas(parsed, r)[0]}
    seen: dict[int, Candidate] = {}
    for row in rows:
        if row.id not in seen:
            seen[row.id] = _score(parsed, row, named)
    ranked = sorted(seen.values(), key=lambda c: (-c.confidence, c.address_id))
    ranked = _lead(ranked)
    if len(ranked) > 1 and ranked[1].confidence >= ranked[0].confidence - CLOSE:
        ranked[0] = replace(ranked[0], confidence=min(ranked[0].confidence, AMBIGUOUS_CAP))
    return ranked[:limit]
