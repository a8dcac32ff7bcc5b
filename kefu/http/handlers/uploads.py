"""File and image uploads (issue 15, item 1): ``POST /api/uploads?session_id=…`` takes one
file (multipart/form-data, field ``file``) into a conversation; ``GET /api/uploads/{id}``
and ``…/thumbnail`` give it back to whoever may read that conversation.

- **Who.** Uploading: a participant of an *active* session — its kehu or its kefu (a kehu
  may leave ``session_id`` out: its active session; none → 409 ``no_session``). Another
  session → 404, as for a missing one; an admin → 403 (admins do not chat). Reading: whoever
  may read the session's messages (``sessions.can_read``: its kehu, its kefu, the agents
  the customer came to later) and admins; anyone else gets the 404 of a missing id.
- **Limits.** ``KEFU_UPLOAD_MAX_BYTES`` (10 MiB) per file → 413; the rest of the API keeps
  ``KEFU_MAX_BODY_BYTES``. The body is streamed: checks that need no body (token, session,
  rate ``KEFU_UPLOAD_RATE_PER_MINUTE`` per user → 429, ``KEFU_UPLOAD_CONCURRENCY`` bodies
  held at once → 503) are made first; a refused request's body is read and dropped (so
  the client sees the reply), up to four times the limit, past which the connection
  closes. Type by content only (``uploads/sniff.py``) → 415; a broken image → 400; more
  than ``KEFU_UPLOAD_MAX_PIXELS`` → 413.
- **Replies.** The sniffed ``Content-Type``, ``nosniff``, images ``inline`` and everything
  else ``attachment`` (RFC 6266 ``filename*``), ``Content-Security-Policy: sandbox`` and
  ``Cache-Control: private``. Streamed in 256 KiB chunks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel
from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError
from tornado.web import stream_request_body

from kefu.domain import User, UserType, split_session_id
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.sessions import can_read
from kefu.http.i18n import MESSAGES
from kefu.http.openapi import doc
from kefu.persistence import upload_records as records
from kefu.persistence.rate_limits import Limit, RateLimits
from kefu.uploads.images import THUMB_TYPE
from kefu.uploads.service import UploadRefused, Uploads

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around the file
CHUNK = 256 * 1024
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

MESSAGES.update({
    "upload_ok": ("文件上传成功", "File uploaded"),
    "upload_not_found": ("文件不存在", "File not found"),
    "upload_empty": ("文件为空", "The file is empty"),
    "upload_no_file": ("请选择要上传的文件（multipart/form-data 字段 file）",
                       "No file (multipart/form-data field \"file\")"),
    "upload_too_large": ("文件过大，最大 {max_mb} MB", "File too large (at most {max_mb} MB)"),
    "upload_type_refused": ("不支持的文件类型", "This type of file is not accepted"),
    "upload_image_broken": ("图片已损坏或无法识别", "The image is broken or unreadable"),
    "upload_image_too_many_pixels": ("图片尺寸过大", "The image has too many pixels"),
    "upload_busy": ("上传繁忙，请稍后重试", "Too many uploads right now, retry shortly"),
    "session_id_required": ("请指定会话（session_id）", "session_id is required"),
})


class UploadOut(BaseModel):
    id: str
    session_id: str
    uploader: str
    name: str
    content_type: str
    size: int
    image: bool
    width: int | None
    height: int | None
    url: str
    thumbnail_url: str | None
    created_at: str


class UploadReply(BaseModel):
    upload: UploadOut


class UploadQuery(BaseModel):
    session_id: str | None = None


def service(handler: BaseHandler) -> Uploads:
    found = handler.state.uploads
    assert found is not None
    return found


@stream_request_body
class UploadHandler(BaseHandler):
    async def prepare(self) -> None:
        """Everything that needs no body, before the body is read (loop thread)."""
        s = self.state.settings
        self.limit = s.upload_max_bytes + FORM_OVERHEAD
        self.received = 0
        self.parts: list[bytes] = []
        self.refusal: ApiError | None = None
        self.slot = False
        conn = self.request.connection
        if isinstance(conn, HTTP1Connection):  # (what Tornado's server hands a handler)
            conn.set_max_body_size(4 * self.limit)
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > 4 * self.limit:
            raise self.too_large()  # not worth reading: the connection closes
        try:
            me = await self.authenticate(UserType.KEHU, UserType.KEFU)
            verdict = await self.state.bridge.run_io(
                RateLimits(self.state.store).hit,
                Limit("upload", s.upload_rate_per_minute, 60), me.id)
            if not verdict.allowed:
                raise ApiError(429, "rate_limited", data={"retry_after": verdict.retry_after},
                               headers={"Retry-After": str(verdict.retry_after)})
            self.sid = await self.target(me)
            if length.isdigit() and int(length) > self.limit:
                raise self.too_large()
            uploads = service(self)
            if isinstance(conn, HTTP1Connection) and conn.stream.closed():
                return  # gone while we checked: nothing to hold
            if uploads.slots >= s.upload_concurrency:
                raise ApiError(503, "upload_busy", headers={"Retry-After": "1"})
            uploads.slots += 1
            self.slot = True
        except ApiError as exc:
            self.refusal = exc  # answered once the body is in (and dropped)

    def too_large(self) -> ApiError:
        return ApiError(413, "upload_too_large",
                        max_mb=round(self.state.settings.upload_max_bytes / 2**20, 1))

    async def target(self, me: User) -> str:
        """The session the file goes to: named, or (a kehu) its active one."""
        sid = self.get_query_argument("session_id", None) or None
        history = self.state.history
        if sid is None:
            if me.user_type is not UserType.KEHU:
                raise ApiError(400, "session_id_required")
            active = await self.state.bridge.run_io(history.active_sessions, me.id)
            if not active:
                raise ApiError(409, "no_session")
            return str(active[0]["session_id"])
        pair = split_session_id(sid)
        half = 0 if me.user_type is UserType.KEHU else 1
        if pair is None or pair[half] != me.id or not await self.state.bridge.run_io(
                history.exists, sid):
            raise ApiError(404, "session_not_found")
        if not await self.state.bridge.run_io(history.is_active_for, sid, me.id):
            raise ApiError(409, "session_not_active")
        return sid

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.refusal is not None:
            return
        if self.received > self.limit:
            self.refusal, self.parts = self.too_large(), []
            return
        self.parts.append(chunk)

    def on_finish(self) -> None:
        self.release()
        super().on_finish()

    def on_connection_close(self) -> None:
        self.release()
        super().on_connection_close()

    def release(self) -> None:
        if getattr(self, "slot", False):
            self.slot = False
            service(self).slots -= 1
        self.parts = []

    @doc("Upload a file or image into a conversation (multipart/form-data, field `file`)",
         roles=("kefu", "kehu"), query=UploadQuery, response=UploadReply, tag="uploads",
         errors=(400, 401, 403, 404, 409, 413, 415, 429, 503),
         description="`session_id`: an active session of the caller (a kehu may leave it "
                     "out: its active session; none → 409). At most "
                     "`KEFU_UPLOAD_MAX_BYTES` (413). The type is decided by the content "
                     "(415 for anything off the allow-list: HTML, SVG, executables, ...); "
                     "a broken image is 400. Send the file as a chat message with "
                     "`content_type` Image or File and `url` = the reply's `url`.")
    async def post(self) -> None:
        if self.refusal is not None:
            raise self.refusal
        body, self.parts = b"".join(self.parts), []
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        ctype = self.request.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/form-data"):
            httputil.parse_body_arguments(ctype, body, args, files, self.request.headers)
        del body
        sent = files.get("file") or []
        if len(sent) != 1:
            raise ApiError(400, "upload_no_file")
        user = self.user
        assert user is not None
        uploads = service(self)
        try:
            record = await uploads.run(uploads.accept, sent[0].body, sent[0].filename or "",
                                       self.sid, user.id)
        except UploadRefused as exc:
            if exc.key == "upload_too_large":
                raise self.too_large() from exc
            raise ApiError(exc.status, exc.key) from exc
        finally:
            files.clear()
        self.ok("upload_ok", {"upload": record})


class UploadFileBase(BaseHandler):
    async def readable(self, upload_id: str) -> dict[str, Any]:
        """The upload if the caller may read its session; else the 404 of a missing one."""
        me = await self.authenticate()
        store, history = self.state.store, self.state.history

        def look() -> dict[str, Any] | None:
            found = records.get(store, upload_id)
            if found is None:
                return None
            meta = history.meta(found["session_id"])
            return found if meta and can_read(history, meta, me) else None

        found = await self.state.bridge.run_io(look)
        if found is None:
            raise ApiError(404, "upload_not_found")
        return found

    async def send(self, key: str, content_type: str, disposition: str) -> None:
        uploads = service(self)
        reader = await uploads.run(uploads.open, key)
        if reader is None:
            raise ApiError(404, "upload_not_found")
        try:
            self.set_header("Content-Type", content_type)
            self.set_header("Content-Disposition", disposition)
            self.set_header("X-Content-Type-Options", "nosniff")
            self.set_header("Content-Security-Policy", FILE_CSP)
            self.set_header("Cache-Control", "private, max-age=3600")
            self.set_header("Cross-Origin-Resource-Policy", "same-origin")
            while chunk := await uploads.run(reader.read, CHUNK):
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            return  # the client went away
        finally:
            await uploads.run(reader.close)
        self.finish()


def disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name (``filename*``)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class UploadFileHandler(UploadFileBase):
    @doc("An uploaded file (images inline, everything else as an attachment)",
         roles=("admin", "kefu", "kehu"), path_params=("upload_id",), tag="uploads",
         content_type="application/octet-stream", errors=(401, 404),
         description="Whoever may read the upload's session (as its messages: its kehu, "
                     "its kefu, the agents the customer came to later) and admins; anyone "
                     "else: 404, as for a missing id. `Content-Type` is the sniffed type, "
                     "with `nosniff` and a sandboxing CSP. `HEAD` gives the headers alone "
                     "(`Content-Length`: the file's size).")
    async def get(self, upload_id: str) -> None:
        found = await self.readable(upload_id)
        kind = "inline" if found["image"] else "attachment"
        await self.send(found["id"], found["content_type"], disposition(kind, found["name"]))

    async def head(self, upload_id: str) -> None:
        """The headers alone (the pages read a file card's size from Content-Length)."""
        found = await self.readable(upload_id)
        self.set_header("Content-Type", found["content_type"])
        self.set_header("Content-Length", str(found["size"]))
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish()


class UploadThumbnailHandler(UploadFileBase):
    @doc("An uploaded image's thumbnail (WebP, at most 320×320)",
         roles=("admin", "kefu", "kehu"), path_params=("upload_id",), tag="uploads",
         content_type=THUMB_TYPE, errors=(401, 404),
         description="As the file itself; 404 for an upload that is not an image.")
    async def get(self, upload_id: str) -> None:
        found = await self.readable(upload_id)
        if not found["image"]:
            raise ApiError(404, "upload_not_found")
        name = found["name"].rsplit(".", 1)[0] + ".thumb.webp"
        await self.send(f"{found['id']}.thumb", THUMB_TYPE, disposition("inline", name))
