"""Business hours (kefu/actors/business_hours.py): open or closed at a given instant, in
the team's timezone, with holidays, and when it opens next — the clock passed in."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from kefu.actors.business_hours import BusinessHours
from kefu.actors.team_rules import TeamBook

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = {"timezone": "Asia/Shanghai",
         "weekly": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["10:00", "24:00"]]},
         "holidays": ["2026-12-07"]}


def at(text: str) -> float:
    """A Shanghai wall-clock time → epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def test_open_inside_the_intervals_of_the_day_in_the_teams_timezone() -> None:
    h = BusinessHours.from_view(HOURS)
    assert h is not None
    assert h.is_open(at("2026-11-30 09:00"))  # a Monday
    assert not h.is_open(at("2026-11-30 08:59"))
    assert not h.is_open(at("2026-11-30 12:30"))  # lunch
    assert h.is_open(at("2026-11-30 17:59")) and not h.is_open(at("2026-11-30 18:00"))
    assert not h.is_open(at("2026-12-01 10:00"))  # Tuesday: not listed, closed
    assert h.is_open(at("2026-12-05 23:59"))  # Saturday until 24:00
    # the same instant seen from UTC: 01:30 UTC is 09:30 in Shanghai
    assert h.is_open(datetime(2026, 11, 30, 1, 30, tzinfo=ZoneInfo("UTC")).timestamp())


def test_holidays_are_closed_and_next_open_skips_them() -> None:
    h = BusinessHours.from_view(HOURS)
    assert h is not None
    assert not h.is_open(at("2026-12-07 10:00"))  # a Monday, but a holiday
    assert h.next_open(at("2026-11-30 12:30")) == at("2026-11-30 13:00")
    assert h.next_open(at("2026-11-30 10:00")) == at("2026-11-30 10:00")  # open now
    assert h.next_open(at("2026-12-06 10:00")) == at("2026-12-12 10:00")  # past the holiday
    assert BusinessHours.from_view({"timezone": "UTC", "weekly": {}}).next_open(0) is None
    assert BusinessHours.from_view(None) is None  # no hours: always open


def test_a_team_is_closed_outside_its_hours_and_max_wait_is_per_team() -> None:
    book = TeamBook.from_views([
        {"id": "day", "name": "白班", "members": [], "hours": HOURS, "max_wait_seconds": 120},
        {"id": "always", "name": "全天", "members": []}])
    assert book.closed("day", at("2026-12-01 10:00"))
    assert not book.closed("day", at("2026-11-30 10:00"))
    assert not book.closed("always", 0) and not book.closed(None, 0)
    assert book.waited_too_long("day", 120) and not book.waited_too_long("day", 119)
    assert not book.waited_too_long("always", 10**6)
