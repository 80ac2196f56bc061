"""Rows of the demo city's point layers, generated in fixed-size chunks.

Row *i* of a layer always comes from chunk ``i // layer.chunk`` with a generator seeded by
(layer, chunk), so any scale loads a prefix of the same sequence: ``--scale 10`` after the demo
adds rows, and running either again adds none. Everything is synthetic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from seed import history, vocab
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
    hotline_operator_id: int | None = None


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
    events: list[tuple[Any, ...]]  # task_id last: a local task number, made an id on loading
    tasks: list[tuple[Any, ...]] = field(default_factory=list)  # TASK_COLUMNS, local number first
    callers: list[tuple[Any, ...]] = field(default_factory=list)
    callbacks: list[tuple[Any, ...]] = field(default_factory=list)
    ratings: list[tuple[Any, ...]] = field(default_factory=list)


CASE_COLUMNS = (
    "id", "public_id", "category", "description", "address", "status", "priority", "source",
    "reporter_id", "grid_cell_id", "department_id", "assignee_id", "duplicate_of", "reported_at",
    "dispatched_at", "due_at", "resolved_at", "closed_at", "updated_at", "geom",
)  # fmt: skip
EVENT_COLUMNS = (
    "case_id", "event_type", "from_status", "to_status", "actor_id", "department_id", "note", "at",
    "from_department_id", "task_id",
)  # fmt: skip
TASK_COLUMNS = (
    "id", "case_id", "department_id", "kind", "status", "note", "created_by", "created_at",
    "started_at", "finished_at", "updated_at",
)  # fmt: skip
CALLER_COLUMNS = (
    "case_id", "name", "phone", "callback_time", "consent_callback", "taken_by", "taken_at",
)  # fmt: skip
#: Callbacks are joined to their caller and the case's close event on loading (seed.load).
CALLBACK_COLUMNS = (
    "case_id", "status", "attempts", "satisfaction", "note", "done_by", "done_at", "created_at",
)  # fmt: skip
RATING_COLUMNS = ("object_type", "object_id", "rater_id", "score", "comment", "created_at")

#: Hotline callers who agreed to a callback; callbacks of closed cases: reached or not, and
#: what the reached callers said; app reporters who rate a closed case, and their scores.
CONSENT_P = 0.9
UNREACHABLE_P = 0.05
SATISFACTION_P = {"satisfied": 0.80, "basically_satisfied": 0.14, "not_satisfied": 0.06}
RATED_P = 0.35
SCORE_P = {5: 0.55, 4: 0.25, 3: 0.10, 2: 0.05, 1: 0.05}
_SATISFACTION_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意",
                    "not_satisfied": "不满意: 处理不够彻底，问题仍有反复"}  # fmt: skip


def case_rows(city: City, refs: Refs, chunk: int, ids: list[int]) -> CaseChunk:
    """One chunk of cases with their timelines and history (seed.history); ``ids`` are ids
    reserved from the sequence."""
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
    limits = np.array([cats[c].time_limit_hours for c in cat], dtype=float)
    tm = history.draw(rng, status, source, limits, REFERENCE_TIME)
    reported = tm.reported.astype("datetime64[s]")
    decided = tm.decided.astype("datetime64[s]")

    # A duplicate repeats an earlier case of this chunk: same category, same spot.
    dup_of: NDArray[np.int64] = np.full(n, -1, dtype=np.int64)
    for d in np.flatnonzero(status == "duplicate"):
        j = int(rng.integers(0, d))
        dup_of[d], cat[d], cell[d], x[d], y[d] = j, cat[j], cell[j], x[j], y[j]
        reported[d] = max(reported[d], reported[j])
        decided[d] = reported[d] + np.timedelta64(1800, "s")
    limits = np.array([cats[c].time_limit_hours for c in cat], dtype=float)
    due = tm.handle_start.astype("datetime64[s]") + (limits * 3600).astype("timedelta64[s]")
    # The case row's dispatched_at: the last dispatch (a transfer keeps it).
    dispatched = np.where(tm.collab == "transfer", tm.first_dispatch, tm.handle_start)
    geoms = ewkb_points(x, y)
    t = {
        name: _timestamps(np.asarray(arr).astype("datetime64[s]"))
        for name, arr in {
            "reported": reported, "decided": decided, "due": due, "dispatched": dispatched,
            "first_dispatch": tm.first_dispatch, "return_requested": tm.return_requested,
            "return_accepted": tm.return_accepted, "handle_start": tm.handle_start,
            "started": tm.started, "resolved": tm.resolved, "closed": tm.closed,
            "task_assigned": tm.task_assigned, "task_started": tm.task_started,
            "task_done": tm.task_done,
        }.items()
    }  # fmt: skip
    ref_s = int(REFERENCE_TIME.timestamp())
    follow_u = rng.random(n)
    follow_delay = (rng.lognormal(np.log(20 * 3600), 0.7, n)).astype(np.int64)
    satisfaction = _choice(rng, SATISFACTION_P, n)
    score = rng.choice(list(SCORE_P), size=n, p=list(SCORE_P.values()))
    consent = rng.random(n) < CONSENT_P
    follow_at = tm.closed + follow_delay  # an app rating: any hour
    follow_text = _timestamps(follow_at.astype("datetime64[s]"))
    # A callback: within working hours, a median four working hours after the close.
    call_delay = np.maximum(rng.lognormal(np.log(4 * 3600), 0.8, n), 600).astype(np.int64)
    closed_or_not = np.where(status == "closed", tm.closed, ref_s - 30 * 86400)
    call_at = history.clock(REFERENCE_TIME).add(closed_or_not, call_delay)
    call_text = _timestamps(call_at.astype("datetime64[s]"))
    depts = sorted(refs.department_ids.values())
    dept_code = {v: k for k, v in refs.department_ids.items()}

    out = CaseChunk([], [])
    events = out.events
    for i in range(n):
        c = cats[cat[i]]
        st = str(status[i])
        src = str(source[i])
        collab = str(tm.collab[i])
        reporter = None
        if src == "citizen_report":
            reporter = int(refs.citizen_ids[int(rng.integers(len(refs.citizen_ids)))])
        reached = _STEPS[st]
        # Routed to its category's department from the start; dispatched when a dispatcher says.
        dept = refs.department_ids[c.department]
        other = depts[int(rng.integers(len(depts) - 1))]
        other = depts[-1] if other == dept else other
        was_dispatched = "dispatched" in reached
        staff: list[int | None] = [*refs.department_staff.get(c.department, [])] or [None]
        assignee = staff[i % len(staff)] if "started" in reached else None
        worker = int(refs.worker_ids[cell[i]])
        road = vocab.ROADS[int(rng.integers(len(vocab.ROADS)))]
        desc = c.descriptions[int(rng.integers(len(c.descriptions)))].format(road=road[0])
        district = city.areas[_district_of(city, int(cell[i]))].name_zh
        row_no = chunk * n + i
        first_actor = {"citizen_report": reporter, "grid_worker": worker}.get(
            src, refs.dispatcher_id
        )
        cid = ids[i]
        ev: list[tuple[Any, ...]] = [
            (cid, "reported", None, "reported", first_actor, None, None, t["reported"][i],
             None, None)
        ]  # fmt: skip
        dsp = refs.dispatcher_id
        if st == "rejected":
            ev.append((cid, "rejected", "reported", "rejected", dsp, None, _REJECT_NOTE,
                       t["decided"][i], None, None))  # fmt: skip
        elif st == "duplicate":
            ev.append((cid, "marked_duplicate", "reported", "duplicate", dsp, None,
                       f"与 {ids[dup_of[i]]} 号案件重复", t["decided"][i], None, None))  # fmt: skip
        elif was_dispatched:
            wrong = other if collab in ("transfer", "return") else dept
            ev.append((cid, "dispatched", "reported", "dispatched", dsp, wrong,
                       _NOTES["dispatched"], t["first_dispatch"][i], None, None))  # fmt: skip
            wrong_staff = next(iter(refs.department_staff.get(dept_code[wrong], [])), None)
            if collab == "transfer":
                ev.append((cid, "transferred", "dispatched", "dispatched", dsp, dept,
                           "不属本部门职责，按职责转至主管部门", t["handle_start"][i], wrong,
                           None))  # fmt: skip
            elif collab == "return":
                ev.append((cid, "return_requested", None, None, wrong_staff, wrong,
                           "非本部门职责范围，申请退回重新派遣", t["return_requested"][i], None,
                           None))  # fmt: skip
                ev.append((cid, "return_accepted", "dispatched", "reported", dsp, wrong,
                           "同意退单，重新派遣", t["return_accepted"][i], None, None))  # fmt: skip
                ev.append((cid, "dispatched", "reported", "dispatched", dsp, dept,
                           _NOTES["dispatched"], t["handle_start"][i], None, None))  # fmt: skip
        prev = "dispatched"
        for step, to_status, actor in (
            ("started", "in_progress", assignee),
            ("resolved", "resolved", assignee),
            ("closed", "closed", dsp),
        ):
            if step not in reached:
                break
            ev.append((cid, step, prev, to_status, actor, None, _NOTES.get(step), t[step][i],
                       None, None))  # fmt: skip
            prev = to_status
        if collab in ("co_handle", "joint"):
            _task_events(out, ev, cid, collab, st, other, dept, dsp,
                         next(iter(refs.department_staff.get(dept_code[other], [])), None),
                         {k: t[k][i] for k in _TASK_STEPS})  # fmt: skip
        closed_at = t["closed"][i] if st == "closed" else None
        if src == "hotline":
            out.callers.append((cid, f"{vocab.person_name(20_000 + row_no)}（演示）",
                                f"1990{row_no % 10_000_000:07d}",
                                "工作日白天" if row_no % 3 == 0 else None, bool(consent[i]),
                                refs.hotline_operator_id, t["reported"][i]))  # fmt: skip
            if closed_at is not None and consent[i]:
                outcome = "unreachable" if follow_u[i] < UNREACHABLE_P else str(satisfaction[i])
                _callback(out, ev, cid, refs.hotline_operator_id, closed_at,
                          call_text[i] if call_at[i] < ref_s else None, outcome)  # fmt: skip
        if (closed_at is not None and reporter is not None and follow_u[i] < RATED_P
                and follow_at[i] < ref_s):  # fmt: skip
            out.ratings.append(("case", cid, reporter, int(score[i]), None, follow_text[i]))
        ev.sort(key=lambda e: e[7])  # stable: same-instant steps keep their order
        events.extend(ev)
        last = ev[-1][7]
        out.cases.append(
            (
                cid,
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
                closed_at
                if closed_at is not None
                else (t["decided"][i] if st in _DECIDED else None),
                last,
                geoms[i],
            )
        )
    return out


def _task_events(
    out: CaseChunk, ev: list[tuple[Any, ...]], case_id: int, kind: str, status: str,
    helper: int, lead: int, dispatcher: int, helper_staff: int | None, at: dict[str, str | None],
) -> None:  # fmt: skip
    """A co-handling (协办) or joint (吹哨报到) task of ``helper`` on a handled case: assigned
    and taken up; done unless the case is still in progress."""
    local = len(out.tasks)
    joint = kind == "joint"
    note = "联合执法，请相关部门到场报到" if joint else "需协同处置，请协办部门配合"
    done = status != "in_progress"
    if joint:
        ev.append((case_id, "whistle_blown", None, None, dispatcher, lead, note,
                   at["task_assigned"], None, None))  # fmt: skip
    ev.append((case_id, "task_assigned", None, None, dispatcher, helper, note,
               at["task_assigned"], None, local))  # fmt: skip
    ev.append((case_id, "task_reported" if joint else "task_started", None, None, helper_staff,
               helper, None, at["task_started"], None, local))  # fmt: skip
    finished = at["task_done"] if done else None
    if done:
        ev.append((case_id, "task_done", None, None, helper_staff, helper, "协办部分已完成",
                   finished, None, local))  # fmt: skip
    out.tasks.append((local, case_id, helper, "joint" if joint else "co_handle",
                      "done" if done else "in_progress", "协办部分已完成" if done else None,
                      dispatcher, at["task_assigned"], at["task_started"], finished,
                      finished or at["task_started"]))  # fmt: skip


def _callback(
    out: CaseChunk, ev: list[tuple[Any, ...]], case_id: int, operator: int | None,
    closed_at: str, done_at: str | None, outcome: str,
) -> None:  # fmt: skip
    """The callback (回访) due when a hotline case closed: pending if its time has not come
    by the reference instant, else unreachable after three tries or done with the answer. A
    caller not satisfied leaves the case closed here (the live workflow would reopen it)."""
    if done_at is None:
        out.callbacks.append((case_id, "pending", 0, None, None, None, None, closed_at))
    elif outcome == "unreachable":
        note = "第3次回访未接通，回访结束"
        out.callbacks.append((case_id, "unreachable", 3, None, note, operator, done_at,
                              closed_at))  # fmt: skip
        ev.append((case_id, "callback_unreachable", None, None, operator, None, note, done_at,
                   None, None))  # fmt: skip
    else:
        said = _SATISFACTION_ZH[outcome]
        out.callbacks.append((case_id, "done", 1, outcome, said.partition(": ")[2] or None,
                              operator, done_at, closed_at))  # fmt: skip
        ev.append((case_id, "callback_recorded", None, None, operator, None, said, done_at,
                   None, None))  # fmt: skip


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
_REJECT_NOTE = "不属于城市管理范围，已告知诉求人转至相关渠道"
_TASK_STEPS = ("task_assigned", "task_started", "task_done")
_NOTES = {
    "dispatched": "按类别派遣至责任部门",
    "resolved": "已现场处置完毕，附处置后照片",
    "closed": "核查属实，处置到位，予以结案",
}
