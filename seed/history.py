"""The demo city's history: when each seeded case's steps happened, on the city's working
calendar, and which cases were transferred, returned, co-handled or called to a joint task.

Times are drawn in *working seconds* (seed.worktime) and mapped back to instants, so a case
reported at night is dispatched the next working morning and handling times are measured the
way the clocks (geo.services.clocks) and evaluation (geo.services.case_facts) measure them:

- reports follow a daily profile (people report in the day, cameras and sensors at any hour);
- dispatch takes minutes (log-normal, median 20 working minutes; the limit is two hours);
- handling, from the dispatch (or the transfer, which restarts the stage) to the resolve, is the
  category's handle limit times a log-normal ratio (median 0.35): about 88% on time;
- the check and close take a median 90 working minutes against one working day;
- an open case stands, at the reference instant, at a drawn share of its stage's limit:
  most on time, :data:`OPEN_CLOCK_P` warning or overdue; its earlier steps lie before that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache

import numpy as np
from numpy.typing import NDArray

from geo.services.worktime import WorkingTime
from seed.worktime import I64, WorkClock

MINUTE = 60
DISPATCH_LIMIT = 2 * 60 * MINUTE  # the seed's stage limits (seed.load._stage_limits)
CHECK_LIMIT = 8 * 60 * MINUTE  # one working day of 09:00-17:00
HISTORY_DAYS = 180  # finished cases were reported over the half year before the reference
TABLE_DAYS_BEFORE = 420

#: Shares of the handled cases (in progress, resolved or closed) with a collaboration story.
COLLAB_P = {"none": 0.931, "transfer": 0.045, "return": 0.012, "co_handle": 0.008, "joint": 0.004}
#: Where the open cases stand at the reference instant.
OPEN_CLOCK_P = {"on_time": 0.62, "warning": 0.16, "overdue": 0.22}
#: Hour-of-day weights (Shanghai time) of reports by people: quiet nights, busy mornings.
PEOPLE_HOURS = np.array(
    [1, 0.5, 0.3, 0.3, 0.4, 1, 2.5, 5, 8, 10, 10, 9, 7, 8, 9, 9, 8.5, 7, 6, 5.5, 5, 4, 3, 2],
    dtype=float,
)


@cache
def clock(reference: datetime) -> WorkClock:
    """The city's default working hours (09:00-17:00, official calendar) around ``reference``."""
    first = reference.date() - timedelta(days=TABLE_DAYS_BEFORE)
    return WorkClock(WorkingTime(), first, TABLE_DAYS_BEFORE + 120)


def handle_limit_seconds(limit_hours: NDArray[np.float64]) -> I64:
    """The seed's handle limit per category (geo.queries.stage_limits.HANDLE_DEFAULT_SQL):
    under a day in working hours, else whole working days of eight hours."""
    minutes = np.where(limit_hours < 24, limit_hours * 60, (limit_hours // 24) * 8 * 60)
    return np.asarray((minutes * MINUTE).astype(np.int64))


def _ln(rng: np.random.Generator, median_min: float, sigma: float, n: int,
        cap_min: float = 1e9) -> I64:  # fmt: skip
    """Log-normal durations in whole seconds, at least a minute."""
    m = np.minimum(rng.lognormal(np.log(median_min), sigma, n), cap_min)
    return np.asarray(np.maximum(m * MINUTE, MINUTE).astype(np.int64))


def _pick(rng: np.random.Generator, p: dict[str, float], n: int) -> NDArray[np.str_]:
    probs = np.array(list(p.values()))
    return np.asarray(rng.choice(list(p), size=n, p=probs / probs.sum()))


@dataclass
class Times:
    """Epoch seconds per case; meaningless where the case never took the step."""

    reported: I64
    decided: I64  # rejected or marked duplicate
    first_dispatch: I64  # to the wrong department for a transfer or a return
    return_requested: I64
    return_accepted: I64
    handle_start: I64  # the dispatch (or re-dispatch, or transfer) that starts handling
    started: I64
    resolved: I64
    closed: I64
    task_assigned: I64  # co-handling or joint task steps
    task_started: I64
    task_done: I64
    collab: NDArray[np.str_]
    open_state: NDArray[np.str_]  # the drawn clock state of an open case at the reference


def draw(
    rng: np.random.Generator,
    status: NDArray[np.str_],
    source: NDArray[np.str_],
    limit_hours: NDArray[np.float64],
    reference: datetime,
) -> Times:
    n = len(status)
    wc = clock(reference)
    ref_s = int(reference.timestamp())
    wref = int(wc.working(np.array([ref_s], dtype=np.int64))[0])
    handle_limit = handle_limit_seconds(limit_hours)

    d_disp = _ln(rng, 20, 1.0, n, cap_min=360)
    d_start = _ln(rng, 40, 0.9, n)
    ratio = np.minimum(rng.lognormal(np.log(0.35), 0.88, n), 6.0)
    handle = np.maximum((handle_limit * ratio).astype(np.int64), 10 * MINUTE)
    d_close = _ln(rng, 90, 1.0, n, cap_min=5 * 480)
    d_decide = _ln(rng, 30, 1.0, n, cap_min=480)
    d_tr, d_req, d_acc, d_redisp = (_ln(rng, m, 0.8, n, cap_min=480) for m in (60, 90, 30, 15))
    handled = np.isin(status, ["in_progress", "resolved", "closed"])
    collab = np.where(handled, _pick(rng, COLLAB_P, n), "none")
    pre = np.where(collab == "transfer", d_tr,
                   np.where(collab == "return", d_req + d_acc + d_redisp, 0))  # fmt: skip

    # Reports on the daily profile, one to HISTORY_DAYS days before the reference.
    people = ~np.isin(source, ["camera", "sensor"])
    hour = np.where(
        people, rng.choice(24, size=n, p=PEOPLE_HOURS / PEOPLE_HOURS.sum()), rng.integers(0, 24, n)
    )
    midnight = int(datetime.combine(reference.date(), time(0), WorkingTime().zone).timestamp())
    age = rng.integers(1, HISTORY_DAYS + 1, n)
    drawn = midnight - age * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    w_rep = wc.working(drawn)

    # Open cases: the current stage started a drawn share of its limit before the reference.
    open_state = _pick(rng, OPEN_CLOCK_P, n)
    share = np.where(
        open_state == "on_time", rng.uniform(0.05, 0.8, n),
        np.where(open_state == "warning", rng.uniform(0.8, 0.995, n),
                 1.0 + np.minimum(rng.lognormal(np.log(0.4), 0.9, n), 8.0)),
    )  # fmt: skip
    stage_limit = np.where(status == "reported", DISPATCH_LIMIT,
                           np.where(status == "resolved", CHECK_LIMIT, handle_limit))  # fmt: skip
    stage_start = wref - (share * stage_limit).astype(np.int64)
    is_open = np.isin(status, ["reported", "dispatched", "in_progress", "resolved"])
    open_state = np.where(is_open, open_state, "")

    hs = w_rep + d_disp + pre
    hs = np.where(np.isin(status, ["dispatched", "in_progress"]), stage_start, hs)
    hs = np.where(status == "resolved", stage_start - handle, hs)
    # A closed case closed before the reference: an old enough report.
    end = hs + handle + d_close
    late = (status == "closed") & (end > wref - 3600)
    shift = np.where(late, end - (wref - 3600) + rng.integers(0, 10 * 8 * 3600, n), 0)
    hs = hs - shift
    moved = late | (is_open & (status != "reported"))
    w_rep = np.where(moved, hs - pre - d_disp, w_rep)
    w_rep = np.where(status == "reported", stage_start, w_rep)
    reported = np.where(moved | (status == "reported"), wc.instant(w_rep), drawn)

    first = hs - pre
    req = first + d_req
    acc = req + d_acc
    begin = np.where(status == "in_progress", np.minimum(d_start, np.maximum((wref - hs) // 2, 1)),
                     np.minimum(d_start, handle // 2))  # fmt: skip
    started = hs + begin
    resolved = hs + handle
    closed = resolved + d_close
    # Tasks run between the start and the resolve (or the reference, still open).
    until = np.where(status == "in_progress", wref, resolved)
    span = np.maximum(until - started, 4)
    return Times(
        reported=reported,
        decided=wc.instant(w_rep + d_decide),
        first_dispatch=wc.instant(first),
        return_requested=wc.instant(req),
        return_accepted=wc.instant(acc),
        handle_start=wc.instant(hs),
        started=wc.instant(started),
        resolved=wc.instant(resolved),
        closed=wc.instant(closed),
        task_assigned=wc.instant(started + span // 4),
        task_started=wc.instant(started + span // 2),
        task_done=wc.instant(started + (3 * span) // 4),
        collab=collab,
        open_state=open_state,
    )
