"""What a message list, search or export asks for: the filter, and its date bounds.

Pure (no Redis): dates have second precision, both ends inclusive, a date alone meaning the
whole UTC day; :meth:`MessageFilter.matches` is the full check on one stored message (used
when a session's own stream is scanned).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from kefu.domain import iso, parse_iso

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


class BoundsError(ValueError):
    """A bad ``start_date`` / ``end_date``; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def parse_bounds(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """``start_date`` / ``end_date`` (ISO 8601 date or datetime) → inclusive epoch-second
    bounds; an end given as a date alone covers that whole day."""
    out: list[int | None] = []
    for name, text in (("start_date", start), ("end_date", end)):
        if text is None or not text.strip():
            out.append(None)
            continue
        try:
            value = math.floor(parse_iso(text))
        except (ValueError, OverflowError, OSError) as exc:
            raise BoundsError(name, "must be an ISO 8601 date or datetime") from exc
        if name == "end_date" and _DATE_ONLY.match(text):
            value += 86399
        out.append(value)
    lo, hi = out
    if lo is not None and hi is not None and hi < lo:
        raise BoundsError("end_date", "must not be before start_date")
    return lo, hi


@dataclass(frozen=True)
class MessageFilter:
    """What a list, search or export asks for (every field optional)."""

    from_user: str | None = None
    to_user: str | None = None
    content_type: str | None = None
    start_s: int | None = None
    end_s: int | None = None
    keyword: str | None = None
    session_id: str | None = None

    @property
    def lo(self) -> str:
        return "-inf" if self.start_s is None else str(self.start_s * 1000)

    @property
    def hi(self) -> str:
        return "+inf" if self.end_s is None else str(self.end_s * 1000 + 999)

    @property
    def needle(self) -> str | None:
        return self.keyword.casefold() if self.keyword else None

    def matches(self, m: dict[str, Any]) -> bool:
        """The full check on one stored message (used when scanning a session's stream)."""
        if self.from_user is not None and m.get("from") != self.from_user:
            return False
        if self.to_user is not None and m.get("to") != self.to_user:
            return False
        if self.content_type is not None and m.get("content_type") != self.content_type:
            return False
        ts = m.get("timestamp") or ""
        if self.start_s is not None and ts < (iso(self.start_s) or ""):
            return False
        if self.end_s is not None and ts > (iso(self.end_s) or ""):
            return False
        needle = self.needle
        return needle is None or needle in (m.get("content") or "").casefold()

