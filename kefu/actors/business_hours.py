"""A team's business hours (issue 14, item 4): pure, the clock passed in.

``weekly`` maps a weekday (``mon`` … ``sun``) to intervals ``["09:00", "18:00"]`` in the
team's ``timezone`` (an IANA name, ``zoneinfo``); a day not listed is closed, an interval
may end at ``"24:00"``. ``holidays`` are dates (``YYYY-MM-DD``, in that timezone) closed
all day. A team without hours is always open (docs/routing.md, "Business hours").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def minutes(hhmm: str) -> int:
    """``"09:30"`` → 570; ``"24:00"`` → 1440."""
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins)


@dataclass(frozen=True)
class BusinessHours:
    timezone: str = "UTC"
    weekly: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # minutes
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_view(cls, raw: dict[str, Any] | None) -> BusinessHours | None:
        """The team's ``hours`` setting → its hours; None: always open."""
        if not raw:
            return None
        weekly = {day: [(minutes(a), minutes(b)) for a, b in raw.get("weekly", {}).get(day, [])]
                  for day in DAYS}
        return cls(timezone=raw.get("timezone") or "UTC", weekly=weekly,
                   holidays=frozenset(date.fromisoformat(d) for d in raw.get("holidays", [])))

    def local(self, at: float) -> datetime:
        return datetime.fromtimestamp(at, ZoneInfo(self.timezone))

    def is_open(self, at: float) -> bool:
        """Is the team open at the epoch second ``at``?"""
        t = self.local(at)
        if t.date() in self.holidays:
            return False
        now_min = t.hour * 60 + t.minute
        return any(a <= now_min < b for a, b in self.weekly.get(DAYS[t.weekday()], []))

    def next_open(self, at: float) -> float | None:
        """When it next opens (epoch seconds; ``at`` itself when open now); None when no
        day of the next two weeks has hours."""
        t = self.local(at)
        for offset in range(15):
            day = (t + timedelta(days=offset)).date()
            if day in self.holidays:
                continue
            midnight = datetime(day.year, day.month, day.day, tzinfo=t.tzinfo)
            for a, b in sorted(self.weekly.get(DAYS[day.weekday()], [])):
                start = midnight + timedelta(minutes=a)
                end = midnight + timedelta(minutes=b)
                if end.timestamp() > at:
                    return max(start.timestamp(), at)
        return None
