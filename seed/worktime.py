"""Working time for whole arrays of instants: the city's calendar (geo.services.worktime) laid
out once as a table of days, so the seed moves a chunk of cases along working hours with a few
numpy operations instead of a Python loop per case.

An instant maps to its *working second*: the working seconds from the table's first day to it
(constant outside working hours). Adding working time is adding to that number and mapping
back; a limit that runs out at a day's closing time ends then (as ``WorkingTime.add``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from geo.services.worktime import WorkingTime

I64 = NDArray[np.int64]


class WorkClock:
    """``hours`` over the days from ``first`` for ``days`` days; instants are epoch seconds."""

    def __init__(self, hours: WorkingTime, first: date, days: int) -> None:
        opens: list[int] = []
        lengths: list[int] = []
        for k in range(days):
            day = first + timedelta(days=k)
            begin = datetime.combine(day, hours.start, hours.zone)
            end = datetime.combine(day, hours.end, hours.zone)
            opens.append(int(begin.timestamp()))
            lengths.append(int((end - begin).total_seconds()) if hours.calendar.is_workday(day)
                           else 0)  # fmt: skip
        self.opens = np.array(opens, dtype=np.int64)
        self.lengths = np.array(lengths, dtype=np.int64)
        self.before = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.ends = self.before + self.lengths

    def working(self, t: I64) -> I64:
        """The working second of each instant ``t``."""
        d = np.searchsorted(self.opens, t, side="right") - 1
        if (d < 0).any() or (d >= len(self.opens) - 1).any():
            raise ValueError("An instant lies outside the working-time table.")
        return np.asarray(self.before[d] + np.clip(t - self.opens[d], 0, self.lengths[d]))

    def instant(self, w: I64) -> I64:
        """The first instant at working second ``w`` (a day's closing time, not the next
        opening, for a ``w`` that ends a working day)."""
        d = np.searchsorted(self.ends, w, side="left")
        if (d >= len(self.ends)).any():
            raise ValueError("A working second lies beyond the working-time table.")
        return np.asarray(self.opens[d] + (w - self.before[d]))

    def add(self, t: I64, seconds: I64) -> I64:
        return self.instant(self.working(t) + seconds)
