"""Data rights (issue 16, item 4): ``POST /api/customers/{id}/erase`` and
``GET /api/customers/{id}/export``, admin only (403 to agents and customers; 404 for an
id that is not a customer). What each does: ``kefu/persistence/erasure.py``,
``kefu/persistence/customer_export.py`` and ``docs/data-rights.md``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from tornado.iostream import StreamClosedError

from kefu.domain import UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.i18n import MESSAGES
from kefu.http.openapi import doc
from kefu.persistence import erasure
from kefu.persistence.customer_export import CustomerExport, customer_record
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import CloseCode

log = logging.getLogger(__name__)
EXPORT_MEDIA = "application/vnd.kefu.customer-export+json"

MESSAGES.update({
    "customer_erased": ("客户数据已删除", "Customer erased"),
    "customer_busy": ("客户正在会话或排队中，请先结束会话", "The customer is in a session or "
                      "waiting in the queue: end it first"),
})


class ErasureOut(BaseModel):
    customer_id: str
    erased: bool
    already_erased: bool
    erased_by: str | None
    erased_at: str | None
    sessions: int
    messages: int
    uploads: int
    messages_left: int


class CustomerExportOut(BaseModel):
    """The export document (docs/data-rights.md has every field)."""

    format: Literal["kefu.customer-export"]
    version: int
    exported_at: str
    customer: dict[str, Any]  # id, name, user_type, created_at and the profile
    sessions: list[dict[str, Any]]  # session, statistics, tags, messages
    messages_left: list[dict[str, Any]]
    uploads: list[dict[str, Any]]


class CustomerEraseHandler(BaseHandler):
    @doc("Erase a customer: message contents become tombstones, profile and uploads go",
         response=ErasureOut, path_params=("customer_id",), tag="customers",
         errors=(401, 403, 404, 409),
         description="Every message of the customer's sessions (sent and received) is "
                     "replaced by its tombstone wherever it is read; the user record, "
                     "tokens, profile, attributes, pre-chat answers, identity binding, "
                     "messages left, uploads and notes are deleted; counters stay. 409 "
                     "while the customer is in an active session or the queue. Idempotent: "
                     "a second call answers `already_erased`; a call after one that "
                     "stopped half-way finishes it. One audit entry (`customer.erase`).")
    async def post(self, customer_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN)
        uploads = self.state.uploads
        try:
            done = await self.state.bridge.run_io(
                erasure.erase, self.state.store, uploads.blobs if uploads else None,
                customer_id, me.id, me.user_type.value)
        except erasure.CustomerBusy as exc:
            raise ApiError(409, "customer_busy") from exc
        if done is None:
            raise ApiError(404, "customer_not_found")
        self.erased = True
        self.state.rt.outbox.kick(customer_id, CloseCode.UNAUTHORIZED, "user deleted")
        self.ok("customer_erased", done)

    def on_finish(self) -> None:
        """The erasure writes its own audit entry (with its counts, atomically with its
        last step); the generic one is left for the requests that failed."""
        if not getattr(self, "erased", False):
            super().on_finish()


class CustomerExportHandler(BaseHandler):
    @doc("Export everything about one customer as one JSON document (a file)",
         path_params=("customer_id",), tag="customers", errors=(401, 403, 404),
         content_type=EXPORT_MEDIA, response=CustomerExportOut,
         description="`Content-Disposition: attachment`, streamed: `{format, version, "
                     "exported_at, customer: {profile, attributes, pre-chat answers, "
                     "identity}, sessions: [{session, statistics, tags, messages}], "
                     "messages_left, uploads: [metadata with its url]}` "
                     "(docs/data-rights.md).")
    async def get(self, customer_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        run_io = self.state.bridge.run_io
        customer = await run_io(customer_record, self.state.store, customer_id)
        if customer is None:
            raise ApiError(404, "customer_not_found")
        export = CustomerExport(self.state.store, customer_id, customer)
        piece = await run_io(export.next)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.set_header("Content-Type", EXPORT_MEDIA)
        self.set_header("Content-Disposition",
                        f'attachment; filename="customer-{customer_id}-{stamp}.json"')
        try:
            while piece is not None:
                self.write(piece)
                await self.flush()
                piece = await run_io(export.next)
        except StreamClosedError:
            return
        except REDIS_ERRORS as exc:
            log.warning("customer export cut short: Redis unavailable: %s", exc)
            self.request.connection.close()  # type: ignore[union-attr]
            return
        self.finish()
