"""Working time (工作时间): instants moved and measured only within the working hours of
working days, on the city's calendar and in its time zone (09:00–17:00 Asia/Shanghai by
default). Pure: no database, no clock of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from geo.services.workdays import Calendar

#: No sane limit crosses more than ten years of days; a loop past it is a bug, not a case.
MAX_DAYS = 3660


@dataclass(frozen=True)
class WorkingTime:
    calendar: Calendar = field(default_factory=lambda: Calendar(official=True))
    start: time = time(9, 0)
    end: time = time(17, 0)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("Working hours must end after they start.")

    @property
    def day_minutes(self) -> int:
        """The length of a working day: what a limit in working days counts per day."""
        span = datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)
        return int(span.total_seconds() // 60)

    def _hours(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.calendar.is_workday(day):
            return None
        return (
            datetime.combine(day, self.start, self.zone),
            datetime.combine(day, self.end, self.zone),
        )

    def add(self, instant: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of working time after ``instant`` (UTC). A limit that runs
        out at a day's closing time ends then, not at the next day's opening."""
        remaining = timedelta(minutes=minutes)
        if remaining <= timedelta(0):
            return instant.astimezone(UTC)
        cursor = instant.astimezone(self.zone)
        day = cursor.date()
        for _ in range(MAX_DAYS):
            hours = self._hours(day)
            if hours is not None:
                begin = max(cursor, hours[0])
                if begin < hours[1]:
                    available = hours[1] - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.zone)
        raise ValueError(f"{minutes} working minutes reach beyond {MAX_DAYS} days.")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from ``start`` to ``end`` (zero when ``end`` is not later)."""
        if end <= start:
            return timedelta(0)
        first = start.astimezone(self.zone)
        last = end.astimezone(self.zone)
        total = timedelta(0)
        day = first.date()
        while day <= last.date():
            hours = self._hours(day)
            if hours is not None:
                overlap = min(last, hours[1]) - max(first, hours[0])
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole working minutes from ``start`` to ``end``."""
        return int(self.between(start, end).total_seconds() // 60)
