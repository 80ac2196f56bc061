"""Rows of the demo city's point layers, generated in fixed-size chunks.

Row *i* of a layer always comes from chunk ``i // layer.chunk`` with a generator seeded by
(layer, chunk), so any scale loads a prefix of the same sequence: ``--scale 10`` after the demo
adds rows, and running either again adds none. Everything is synthetic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from seed import vocab
from seed.geography import SEED, City

#: Seeded times are laid out before this instant, so every run gives the same data.
REFERENCE_TIME = datetime(2026, 11, 15, 0, 0, tzinfo=UTC)
REF64 = np.datetime64(REFERENCE_TIME.replace(tzinfo=None), "s")
HOUR = np.timedelta64(3600, "s")

CASE_STATUS_P = {
    "reported": 0.07,
    "dispatched": 0.08,
    "in_progress": 0.10,
    "resolved": 0.07,
    "closed": 0.58,
    "rejected": 0.06,
    "duplicate": 0.04,
}
CASE_SOURCE_P = {
    "citizen_report": 0.40,
    "grid_worker": 0.35,
    "hotline": 0.15,
    "camera": 0.07,
    "sensor": 0.03,
}
PRIORITY_P = {"low": 0.10, "normal": 0.70, "high": 0.15, "urgent": 0.05}
CAMERA_STATUS_P = {"online": 0.86, "offline": 0.09, "unknown": 0.05}


@dataclass(frozen=True)
class Layer:
    name: str
    per_scale: int  # rows at scale 1
    chunk: int
    number: int  # mixes into the random seed
    growth: float = 1.0  # rows grow as scale ** growth

    def target(self, scale: float) -> int:
        return round(self.per_scale * math.pow(scale, self.growth))


FACILITIES = Layer("facilities", 20_000, 10_000, 1)
CAMERAS = Layer("cameras", 2_000, 2_000, 2)
# Cases accumulate faster than the city grows (more places, and more years of history):
# 50,000 at scale 1 (the demo), 1,000,000 at scale 10 (the benchmark city).
CASES = Layer("cases", 50_000, 25_000, 3, growth=math.log10(20))
POINT_LAYERS = (FACILITIES, CAMERAS, CASES)


@dataclass(frozen=True)
class Refs:
    """Database ids the generated rows point at, looked up by the loader."""

    cell_ids: NDArray[np.int64]  # by cell index
    worker_ids: NDArray[np.int64]  # by cell index: the cell's grid worker
    citizen_ids: NDArray[np.int64]
    dispatcher_id: int
    department_ids: dict[str, int]  # by department code
    department_staff: dict[str, list[int]]  # by department code


def _rng(layer: Layer, chunk: int) -> np.random.Generator:
    return np.random.default_rng([SEED, layer.number, chunk])


def _choice(rng: np.random.Generator, p: dict[str, float], n: int) -> NDArray[np.str_]:
    keys = list(p)
    probs = np.array(list(p.values()))
    return np.asarray(rng.choice(keys, size=n, p=probs / probs.sum()))


def random_points(
    city: City, rng: np.random.Generator, n: int
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """n points spread by the cells' activity weights; each lies strictly inside its cell."""
    cell = rng.choice(len(city.cells), size=n, p=city.cell_weights())
    geoms = city.cell_geoms()[cell]
    bounds = shapely.bounds(geoms)
    x = np.empty(n)
    y = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        b = bounds[todo]
        tx = rng.uniform(b[:, 0], b[:, 2])
        ty = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_properly(geoms[todo], shapely.points(tx, ty))
        x[todo[ok]], y[todo[ok]] = tx[ok], ty[ok]
        todo = todo[~ok]
    return cell, x, y


def ewkb_points(x: NDArray[np.float64], y: NDArray[np.float64]) -> list[str]:
    pts = shapely.set_srid(shapely.points(x, y), 4326)
    return list(shapely.to_wkb(pts, hex=True, include_srid=True))


def _district_of(city: City, cell: int) -> int:
    area: int | None = city.cells[cell].community
    while area is not None and city.areas[area].parent is not None:
        area = city.areas[area].parent
    assert area is not None
    return area


def _timestamps(t: NDArray[np.datetime64]) -> list[str | None]:
    text = np.datetime_as_string(t, unit="s")
    return [None if s == "NaT" else s + "+00" for s in text.tolist()]


def facility_rows(city: City, refs: Refs, chunk: int) -> list[tuple[Any, ...]]:
    layer = FACILITIES
    rng = _rng(layer, chunk)
    n = layer.chunk
    cats = list(vocab.FACILITY_KINDS)
    weights = np.array([vocab.FACILITY_KINDS[c].weight for c in cats])
    cat_idx = rng.choice(len(cats), size=n, p=weights / weights.sum())
    cell, x, y = random_points(city, rng, n)
    geoms = ewkb_points(x, y)
    rows = []
    for i in range(n):
        row_no = chunk * n + i
        kind = vocab.FACILITY_KINDS[cats[cat_idx[i]]]
        district = city.areas[_district_of(city, int(cell[i]))]
        road_zh, road_en = vocab.ROADS[int(rng.integers(len(vocab.ROADS)))]
        word_zh, word_en = vocab.COMMUNITY_WORDS[int(rng.integers(len(vocab.COMMUNITY_WORDS)))]
        tpl_zh, tpl_en = kind.templates[int(rng.integers(len(kind.templates)))]
        fill = {
            "district_zh": district.name_zh,
            "district_en": district.name_en.removesuffix(" District"),
            "road_zh": road_zh,
            "road_en": road_en,
            "word_zh": word_zh,
            "word_en": word_en,
            "n": int(rng.integers(1, 12)),
        }
        number = int(rng.integers(1, 1500))
        capacity = None
        if kind.capacity is not None:
            capacity = int(rng.integers(kind.capacity[0], kind.capacity[1] + 1))
        attributes = {
            key: str(choices[int(rng.integers(len(choices)))])
            for key, choices in kind.attributes.items()
        }
        attributes["synthetic"] = "true"
        rows.append(
            (
                f"F{row_no + 1:07d}",
                cats[cat_idx[i]],
                tpl_zh.format(**fill),
                tpl_en.format(**fill),
                f"上海市{district.name_zh}{road_zh}{number}号",
                capacity,
                json.dumps(attributes, ensure_ascii=False),
                int(refs.cell_ids[cell[i]]),
                geoms[i],
            )
        )
    return rows


FACILITY_COLUMNS = (
    "code", "category", "name_zh", "name_en", "address", "capacity", "attributes",
    "grid_cell_id", "geom",
)  # fmt: skip


def camera_rows(city: City, refs: Refs, chunk: int) -> list[tuple[Any, ...]]:
    layer = CAMERAS
    rng = _rng(layer, chunk)
    n = layer.chunk
    cell, x, y = random_points(city, rng, n)
    geoms = ewkb_points(x, y)
    status = _choice(rng, CAMERA_STATUS_P, n)
    seen = REF64 - (rng.exponential(2.0, n) * HOUR).astype("timedelta64[s]")
    seen = np.where(status == "unknown", np.datetime64("NaT", "s"), seen)
    seen_text = _timestamps(seen)
    rows = []
    for i in range(n):
        code = f"CAM{chunk * n + i + 1:06d}"
        road_a = vocab.ROADS[int(rng.integers(len(vocab.ROADS)))][0]
        road_b = vocab.ROADS[int(rng.integers(len(vocab.ROADS)))][0]
        name = f"{road_a}{road_b}路口" if road_a != road_b else f"{road_a}{i % 900 + 1}号门前"
        rows.append(
            (
                code,
                name,
                int(rng.integers(0, 360)),
                int(rng.choice([60, 90, 110, 360])),
                str(status[i]),
                seen_text[i],
                # A synthetic test pattern: the stream service draws the code into the picture.
                f"testsrc://{code}",
                int(refs.cell_ids[cell[i]]),
                geoms[i],
            )
        )
    return rows


CAMERA_COLUMNS = (
    "code", "name", "heading", "fov", "status", "last_seen_at", "source", "grid_cell_id", "geom",
)  # fmt: skip


@dataclass
class CaseChunk:
    cases: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


CASE_COLUMNS = (
    "id", "public_id", "category", "description", "address", "status", "priority", "source",
    "reporter_id", "grid_cell_id", "department_id", "assignee_id", "duplicate_of", "reported_at",
    "dispatched_at", "due_at", "resolved_at", "closed_at", "updated_at", "geom",
)  # fmt: skip
EVENT_COLUMNS = (
    "case_id", "event_type", "from_status", "to_status", "actor_id", "department_id", "note", "at",
)  # fmt: skip


def _hours(rng: np.random.Generator, mean: float, n: int) -> NDArray[np.timedelta64]:
    h = np.maximum(rng.exponential(mean, n), 0.08)
    return np.asarray((h * 3600).astype("timedelta64[s]"))


def case_rows(city: City, refs: Refs, chunk: int, ids: list[int]) -> CaseChunk:
    """One chunk of cases with their timelines; ``ids`` are ids reserved from the sequence."""
    layer = CASES
    rng = _rng(layer, chunk)
    n = layer.chunk
    cats = vocab.CASE_CATEGORIES
    weights = np.array([c.weight for c in cats])
    cat = rng.choice(len(cats), size=n, p=weights / weights.sum())
    status = _choice(rng, CASE_STATUS_P, n)
    status[0] = "reported" if status[0] == "duplicate" else status[0]
    source = _choice(rng, CASE_SOURCE_P, n)
    priority = _choice(rng, PRIORITY_P, n)
    cell, x, y = random_points(city, rng, n)
    # Open cases are recent; finished ones spread over half a year.
    open_ = np.isin(status, ["reported", "dispatched", "in_progress", "resolved"])
    age_days = np.where(open_, rng.uniform(0, 10, n), rng.uniform(0, 180, n))
    reported = REF64 - (age_days * 86400).astype("timedelta64[s]")
    dispatched = reported + _hours(rng, 1.5, n)
    started = dispatched + _hours(rng, 2.0, n)
    limits = np.array([cats[c].time_limit_hours for c in cat], dtype=float)
    resolved = started + (limits * rng.uniform(0.1, 1.1, n) * 3600).astype("timedelta64[s]")
    closed = resolved + _hours(rng, 6.0, n)
    decided = reported + _hours(rng, 1.0, n)  # rejected or marked duplicate
    due = dispatched + (limits * 3600).astype("timedelta64[s]")

    # A duplicate repeats an earlier case of this chunk: same category, same spot.
    dup_of: NDArray[np.int64] = np.full(n, -1, dtype=np.int64)
    for d in np.flatnonzero(status == "duplicate"):
        j = int(rng.integers(0, d))
        dup_of[d], cat[d], cell[d], x[d], y[d] = j, cat[j], cell[j], x[j], y[j]
        reported[d] = max(reported[d], reported[j])
        decided[d] = reported[d] + np.timedelta64(1800, "s")
    geoms = ewkb_points(x, y)
    t = {
        name: _timestamps(arr)
        for name, arr in {
            "reported": reported, "dispatched": dispatched, "started": started,
            "resolved": resolved, "closed": closed, "decided": decided, "due": due,
        }.items()
    }  # fmt: skip

    cases: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for i in range(n):
        c = cats[cat[i]]
        st = str(status[i])
        src = str(source[i])
        reporter = None
        if src == "citizen_report":
            reporter = int(refs.citizen_ids[int(rng.integers(len(refs.citizen_ids)))])
        reached = _STEPS[st]
        # Routed to its category's department from the start; dispatched when a dispatcher says.
        dept = refs.department_ids[c.department]
        was_dispatched = "dispatched" in reached
        staff: list[int | None] = [*refs.department_staff.get(c.department, [])] or [None]
        assignee = staff[i % len(staff)] if "started" in reached else None
        worker = int(refs.worker_ids[cell[i]])
        road = vocab.ROADS[int(rng.integers(len(vocab.ROADS)))]
        desc = c.descriptions[int(rng.integers(len(c.descriptions)))].format(road=road[0])
        district = city.areas[_district_of(city, int(cell[i]))].name_zh
        last = {"reported": "reported", "rejected": "decided", "duplicate": "decided"}.get(
            st, reached[-1]
        )
        row_no = chunk * n + i
        cases.append(
            (
                ids[i],
                f"{reported[i].astype(datetime):%Y%m%d}-{row_no + 1:07d}",
                c.code,
                desc,
                f"上海市{district}{road[0]}{int(rng.integers(1, 1500))}号附近",
                st,
                str(priority[i]),
                src,
                reporter,
                int(refs.cell_ids[cell[i]]),
                dept,
                assignee,
                ids[dup_of[i]] if dup_of[i] >= 0 else None,
                t["reported"][i],
                t["dispatched"][i] if was_dispatched else None,
                t["due"][i] if was_dispatched else None,
                t["resolved"][i] if "resolved" in reached else None,
                t["closed"][i] if st == "closed" else (t["decided"][i] if st in _DECIDED else None),
                t[last][i],
                geoms[i],
            )
        )
        first_actor = {"citizen_report": reporter, "grid_worker": worker}.get(
            src, refs.dispatcher_id
        )
        events.append(
            (ids[i], "reported", None, "reported", first_actor, None, None, t["reported"][i])
        )
        if st == "rejected":
            events.append(
                (
                    ids[i],
                    "rejected",
                    "reported",
                    "rejected",
                    refs.dispatcher_id,
                    None,
                    "不属于城市管理范围，已告知诉求人转至相关渠道",
                    t["decided"][i],
                )
            )
        elif st == "duplicate":
            events.append(
                (
                    ids[i],
                    "marked_duplicate",
                    "reported",
                    "duplicate",
                    refs.dispatcher_id,
                    None,
                    f"与 {ids[dup_of[i]]} 号案件重复",
                    t["decided"][i],
                )
            )
        prev = "reported"
        for step, to_status, actor in (
            ("dispatched", "dispatched", refs.dispatcher_id),
            ("started", "in_progress", assignee),
            ("resolved", "resolved", assignee),
            ("closed", "closed", refs.dispatcher_id),
        ):
            if step not in reached:
                break
            note = _NOTES.get(step)
            events.append(
                (
                    ids[i],
                    step,
                    prev,
                    to_status,
                    actor,
                    dept if step == "dispatched" else None,
                    note,
                    t[step][i],
                )
            )
            prev = to_status
    return CaseChunk(cases, events)


# Which timeline steps a case in each status has been through.
_STEPS: dict[str, tuple[str, ...]] = {
    "reported": ("reported",),
    "rejected": ("reported",),
    "duplicate": ("reported",),
    "dispatched": ("reported", "dispatched"),
    "in_progress": ("reported", "dispatched", "started"),
    "resolved": ("reported", "dispatched", "started", "resolved"),
    "closed": ("reported", "dispatched", "started", "resolved", "closed"),
}
_DECIDED = frozenset({"rejected", "duplicate"})
_NOTES = {
    "dispatched": "按类别派遣至责任部门",
    "resolved": "已现场处置完毕，附处置后照片",
    "closed": "核查属实，处置到位，予以结案",
}
