"""Messages (seed 4.1–4.5): list, detail, search, export, delete.

Roles — the simplest rule that leaks nothing: list, search, export and delete span every
conversation, so they are **admin only** (403 to kefu and kehu). The detail of one
message (4.2) is for whoever may read its session (``can_read``: its kehu, its kefu, a
kefu it was transferred to, admin; a waiting kehu's own message before assignment);
anyone else gets 404, the same reply as for an unknown id.

Reads go through :mod:`kefu.persistence.messages_query` off the IOLoop. Deleting writes
only the tombstone and the audit entry (new keys no actor owns); the stored message and
its ``seq`` stay, every read then shows it with ``content`` "" and ``deleted`` true.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from tornado.iostream import StreamClosedError

from kefu.domain import UserType
from kefu.http.export_formats import CSV_COLUMNS, FORMATS
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import DateText, Query, absent, parse_query
from kefu.http.handlers.sessions import can_read
from kefu.http.models import Body, MessageOut, UserId
from kefu.http.openapi import doc
from kefu.persistence.message_filter import BoundsError, MessageFilter, parse_bounds
from kefu.persistence.messages_query import MessageQuery
from kefu.persistence.redis import REDIS_ERRORS

log = logging.getLogger(__name__)
# the values of kefu.http.wire.ContentType, inline so each schema is self-contained
ContentTypeName = Literal["Text", "Image", "File", "Voice", "Video", "Link"]
Page = Annotated[int, Field(ge=1, le=1_000_000)]
Limit = Annotated[int, Field(ge=1, le=200)]
SessionIdText = Annotated[str, Field(min_length=1, max_length=300)]
Keyword = Annotated[str, Field(max_length=200)]


# --- requests ---------------------------------------------------------------------------


class MessageListQuery(Query):
    """Query of 4.1 (dates: second precision, inclusive; a date alone = the whole day)."""

    from_user: UserId | None = absent()
    to_user: UserId | None = absent()
    content_type: ContentTypeName | None = absent()
    start_date: DateText | None = absent()
    end_date: DateText | None = absent()


class MessageFilters(Body):
    """The filters shared by search (4.3) and export (4.4)."""

    keyword: Keyword | None = None
    session_id: SessionIdText | None = None
    from_user: UserId | None = None
    to_user: UserId | None = None
    content_type: ContentTypeName | None = None
    start_date: DateText | None = None
    end_date: DateText | None = None


class SearchBody(MessageFilters):
    """4.3: a case-insensitive substring of ``content`` plus the filters of 4.1."""

    page: Page = 1
    limit: Limit = 20


class ExportBody(MessageFilters):
    """4.4: the filters of 4.3 (no pagination: everything that matches) and a format."""

    format: Literal["json", "csv", "ndjson"] = "json"


# --- replies ----------------------------------------------------------------------------


class PaginationOut(BaseModel):
    page: int
    limit: int
    total: int
    total_pages: int
    has_more: bool


class MessagePageOut(BaseModel):
    messages: list[MessageOut]
    pagination: PaginationOut


class SearchOut(MessagePageOut):
    keyword: str | None
    took_ms: float


class MessageDetailOut(BaseModel):
    message: MessageOut


class DeletedOut(BaseModel):
    message_id: str
    session_id: str | None
    seq: int | None
    deleted: bool
    deleted_by: str
    deleted_at: str
    already_deleted: bool


# --- helpers ----------------------------------------------------------------------------


def bounds(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    try:
        return parse_bounds(start, end)
    except BoundsError as exc:
        raise ApiError(400, "bad_request", {exc.field: exc.reason}) from exc


def to_filter(q: MessageListQuery | SearchBody | ExportBody) -> MessageFilter:
    lo, hi = bounds(q.start_date, q.end_date)
    return MessageFilter(
        from_user=q.from_user, to_user=q.to_user,
        content_type=q.content_type, start_s=lo, end_s=hi,
        keyword=getattr(q, "keyword", None) or None, session_id=getattr(q, "session_id", None))


def pagination(page: int, limit: int, total: int) -> dict[str, Any]:
    return {"page": page, "limit": limit, "total": total,
            "total_pages": (total + limit - 1) // limit, "has_more": page * limit < total}


# --- handlers ---------------------------------------------------------------------------


class MessageListHandler(BaseHandler):
    @doc("List messages, newest first (admin)", query=MessageListQuery,
         response=MessagePageOut, tag="messages", errors=(400, 401, 403))
    async def get(self) -> None:
        """4.1 → ``{messages: [stored message], pagination: {page, limit, total,
        total_pages, has_more}}``; ``total`` is exact (ZCOUNT when one index answers)."""
        await self.authenticate(UserType.ADMIN)
        q = parse_query(self, MessageListQuery)
        f = to_filter(q)
        messages, total = await self.state.bridge.run_io(
            MessageQuery(self.state.store).page, f, q.page, q.limit)
        self.ok("messages_list_ok", {"messages": messages,
                                     "pagination": pagination(q.page, q.limit, total)})


class MessageHandler(BaseHandler):
    @doc("One message (who may read its session)", roles=("admin", "kefu", "kehu"),
         path_params=("message_id",), response=MessageDetailOut, tag="messages",
         errors=(401, 404))
    async def get(self, message_id: str) -> None:
        """4.2 → ``{message: stored message}``; 404 when unknown or not readable."""
        me = await self.authenticate()
        query, history = MessageQuery(self.state.store), self.state.history

        def read() -> dict[str, Any] | None:
            m = query.get(message_id)
            if m is None or me.user_type is UserType.ADMIN:
                return m
            sid = m.get("session_id")
            if sid is None:  # still waiting for an agent: only its kehu sees it
                return m if m.get("from") == me.id else None
            meta = history.meta(sid)
            return m if meta and can_read(history, meta, me) else None

        message = await self.state.bridge.run_io(read)
        if message is None:
            raise ApiError(404, "message_not_found")
        self.ok("message_detail_ok", {"message": message})

    @doc("Delete a message: a tombstone and an audit entry (admin)",
         path_params=("message_id",), response=DeletedOut, tag="messages",
         errors=(401, 403, 404))
    async def delete(self, message_id: str) -> None:
        """4.5 → ``{message_id, session_id, seq, deleted: true, deleted_by, deleted_at,
        already_deleted}``. Idempotent: deleting again changes nothing (and adds no audit
        entry) and says ``already_deleted``. The audit stream entry has ``ts``, ``by``,
        ``role``, ``action`` ("message.delete"), ``target`` (the id) and ``detail``."""
        me = await self.authenticate(UserType.ADMIN)
        result = await self.state.bridge.run_io(
            MessageQuery(self.state.store).delete, message_id, me.id, me.user_type.value)
        if result is None:
            raise ApiError(404, "message_not_found")
        if not result["already_deleted"]:  # the system log (6.1) shows it too
            await self.state.bridge.run_io(lambda: self.state.rt.event(
                "info", "http", "message_deleted", message_id=message_id, by=me.id,
                session_id=result["session_id"], seq=result["seq"]))
        self.ok("message_deleted", result)


class MessageSearchHandler(BaseHandler):
    @doc("Search message content (case-insensitive substring) with filters (admin)",
         body=SearchBody, response=SearchOut, tag="messages", errors=(400, 401, 403))
    async def post(self) -> None:
        """4.3 → ``{keyword, messages, pagination, took_ms}``, newest first, exact total;
        with ``session_id`` only that session's stream is scanned."""
        await self.authenticate(UserType.ADMIN)
        body = self.parse(SearchBody)
        f = to_filter(body)
        started = time.perf_counter()
        messages, total = await self.state.bridge.run_io(
            MessageQuery(self.state.store).page, f, body.page, body.limit)
        self.ok("messages_search_ok", {
            "keyword": body.keyword, "messages": messages,
            "pagination": pagination(body.page, body.limit, total),
            "took_ms": round((time.perf_counter() - started) * 1000, 1)})


class MessageExportHandler(BaseHandler):
    @doc("Export matching messages as a file: JSON array, CSV or NDJSON (admin)",
         body=ExportBody, tag="messages", response=MessageOut, errors=(400, 401, 403),
         content_type=("application/json", "text/csv", "application/x-ndjson"),
         description="The reply is the file itself (`Content-Disposition: attachment`), "
                     "streamed in batches: `application/json` (an array), `text/csv` "
                     "(columns " + ", ".join(CSV_COLUMNS) + ") or `application/x-ndjson`.")
    async def post(self) -> None:
        """4.4: the file, newest first, the same messages as the search with the same
        filters; streamed batch by batch (never all in memory). A storage failure before
        the first byte is the usual 503 envelope; after it the connection is cut, so a
        truncated file can never look complete."""
        await self.authenticate(UserType.ADMIN)
        body = self.parse(ExportBody)
        f = to_filter(body)
        fmt = FORMATS[body.format]
        run_io = self.state.bridge.run_io
        scan = await run_io(MessageQuery(self.state.store).scan, f)
        batch = await run_io(scan.messages)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.set_header("Content-Type", fmt.media)
        self.set_header("Content-Disposition",
                        f'attachment; filename="messages-{stamp}.{body.format}"')
        self.write(fmt.head.encode())
        first = True
        try:
            while batch is not None:
                self.write(fmt.encode(batch, first))
                first = False
                await self.flush()
                batch = await run_io(scan.messages)
        except StreamClosedError:
            return  # the client went away: nothing left to send to
        except REDIS_ERRORS as exc:
            log.warning("export cut short: Redis unavailable: %s", exc)
            self.request.connection.close()  # type: ignore[union-attr]
            return
        self.finish(fmt.tail.encode())
