"""``GET /api/admin/audit`` (admin only): the audit trail of admin actions, newest first.
How entries are recorded: ``kefu/http/audit_trail.py``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from kefu.domain import UserType
from kefu.http.audit_trail import trail_of
from kefu.http.handlers.base import BaseHandler
from kefu.http.handlers.queries import PageInfo, Query, page_info, parse_query
from kefu.http.openapi import doc

# --- GET /api/admin/audit ----------------------------------------------------------------


class AuditEntryOut(BaseModel):
    id: str = Field(description="the stream entry id (time-ordered)")
    at: str | None = Field(description="when, ISO 8601 UTC")
    by: str | None = Field(description="the admin's user id")
    role: str | None
    action: str | None = Field(description="`METHOD /route/{template}`, or `message.delete`")
    target: str | None = Field(description="the object acted on (ids from the path)")
    path: str | None
    status: int | None = Field(description="the reply's HTTP status")
    request_id: str | None = Field(description="the reply's X-Request-Id")
    ip: str | None
    detail: dict[str, Any] | None = Field(description="`body` and `query` of the request; "
                                          "fields naming secrets are left out (`redacted`)")


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    pagination: PageInfo


class AuditQuery(Query):
    page: int = Field(default=1, ge=1, le=10_000)


class AuditHandler(BaseHandler):
    @doc("The audit log of admin actions, newest first (admin only)", query=AuditQuery,
         response=AuditPageOut, tag="system", errors=(400, 401, 403),
         description="One entry per admin request that changes something (every method "
                     "but GET), whatever its status, plus a `message.delete` entry per "
                     "deleted message. See docs/security.md.")
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        q = parse_query(self, AuditQuery)
        trail = trail_of(self)
        await trail.settled()
        entries, total = await self.state.bridge.run_io(trail.audit.page, q.page, q.limit)
        self.ok("audit_ok", {"entries": entries,
                             "pagination": page_info(q.page, q.limit, total)})
