"""The session list (seed 1.1): ``GET /api/sessions/list``, paginated and filtered.

Query: ``page`` (default 1), ``limit`` (default 20, 1..200; out of range → 400),
``kefu_id``, ``status`` (active | completed | transferred), ``start_date`` / ``end_date``
(ISO 8601 date or datetime, on ``created_at``; a date alone as ``end_date`` includes that
whole UTC day). Newest first; totals exact.

Roles: admin sees every session; a kefu only its own (``kefu_id`` defaults to itself,
naming another kefu → 403); a kehu only its own (``kefu_id`` then narrows those).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from kefu.domain import UserType, parse_iso
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import PageInfo, SessionListQuery, page_info, parse_query
from kefu.http.handlers.tag_params import tag_filter, with_tags
from kefu.http.models import SessionItem
from kefu.http.openapi import doc
from kefu.persistence.history import session_view
from kefu.persistence.listings import SessionQuery, TimeRange, list_sessions

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SessionListOut(BaseModel):
    sessions: list[SessionItem]
    pagination: PageInfo


def to_epoch(name: str, raw: str | None) -> tuple[float, bool] | None:
    """A date parameter as epoch seconds, and whether it was a date alone; 400 if bad."""
    if raw is None:
        return None
    try:
        return parse_iso(raw), bool(DATE_ONLY.match(raw.strip()))
    except ValueError as exc:
        raise ApiError(400, "bad_request",
                       {name: "must be an ISO 8601 date or datetime"}) from exc


def time_range(q: SessionListQuery) -> TimeRange:
    start = to_epoch("start_date", q.start_date)
    end = to_epoch("end_date", q.end_date)
    lo = start[0] if start else None
    hi, hi_open = None, False
    if end is not None:
        hi, day = end
        if day:  # through the end of that UTC day
            hi = (datetime.fromtimestamp(hi, UTC) + timedelta(days=1)).timestamp()
            hi_open = True
    if lo is not None and hi is not None and lo > hi:
        raise ApiError(400, "bad_request", {"start_date": "must not be after end_date"})
    return TimeRange(lo=lo, hi=hi, hi_open=hi_open)


class SessionListHandler(BaseHandler):
    @doc("List sessions, newest first, filtered and paginated (seed 1.1)",
         roles=("admin", "kefu", "kehu"), query=SessionListQuery, response=SessionListOut,
         tag="sessions", errors=(400, 401, 403),
         description="Admin: every session. Kefu: its own (naming another kefu_id is 403). "
                     "Kehu: its own. Dates filter created_at. `tag` (admin, kefu; a kehu "
                     "gets 403): only sessions carrying that tag; items carry `tags` for "
                     "admins and agents.")
    async def get(self) -> None:
        me = await self.authenticate()
        q = parse_query(self, SessionListQuery)
        created = time_range(q)
        kefu_id, owner = q.kefu_id, None
        if me.user_type is UserType.KEFU:
            if kefu_id is not None and kefu_id != me.id:
                raise ApiError(403, "forbidden")
            kefu_id = me.id
        elif me.user_type is UserType.KEHU:
            owner = me.id
        tag = tag_filter(q.tag, me)
        query = SessionQuery(page=q.page, limit=q.limit, owner=owner, kefu_id=kefu_id,
                             status=q.status, created=created, tag=tag)
        metas, total = await self.state.bridge.run_io(list_sessions, self.state.store, query)
        views = [session_view(m) for m in metas]
        if me.user_type is not UserType.KEHU:
            await with_tags(self.state, views)
        self.ok("sessions_list_ok", {
            "sessions": views,
            "pagination": page_info(q.page, q.limit, total),
        })
