"""Working days (工作日) for time limits: Monday to Friday, less public holidays, plus the
weekend days worked in exchange (调休).

The official calendar comes from the kept ``chinese-calendar`` package (the State Council's
notices, 2004 to the package's last year); settings add or correct days it does not know (a
year not yet published, a local holiday). Without ``official`` only the settings' lists count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar


@lru_cache(maxsize=16_384)
def _official(day: date) -> bool | None:
    """The official calendar's answer for ``day``, None for a year it does not know. Cached:
    the package validates every date against its whole table (the sweep asks ~30 times per
    case, mostly for the same few hundred days)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()
    #: Consult the official calendar (chinese-calendar) for days the lists above do not name.
    official: bool = False

    @classmethod
    def of(
        cls, holidays: Iterable[str], makeup: Iterable[str], *, official: bool = False
    ) -> Calendar:
        return cls(frozenset(map(date.fromisoformat, holidays)),
                   frozenset(map(date.fromisoformat, makeup)), official)  # fmt: skip

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        if self.official and (known := _official(day)) is not None:
            return known
        # a year the package does not know yet: plain weeks, plus the settings
        return day.weekday() < 5

    def add(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (the day of a request not counted)."""
        day = start
        while days > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                days -= 1
        return day
