"""Working days (工作日) for time limits: Monday to Friday, less public holidays, plus the
weekend days worked in exchange (调休). Both lists come from settings: the State Council
publishes them each year."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, holidays: Iterable[str], makeup: Iterable[str]) -> Calendar:
        return cls(frozenset(map(date.fromisoformat, holidays)),
                   frozenset(map(date.fromisoformat, makeup)))  # fmt: skip

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (the day of a request not counted)."""
        day = start
        while days > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                days -= 1
        return day
