"""A chat message that carries an upload (issue 15): its ``url`` ``/api/uploads/{id}``
must name an upload of an active session of the sender, and that session is where the
message goes (loop thread).

Any ``url`` under ``/api/uploads/`` is checked: an unknown id, an upload of another
session, a ``content_type`` ``Image`` for a file that is not an image, or ``Text``/``Link``
with an upload costs one ``error`` frame (``upload_not_found`` or ``bad_frame``) and
nothing is stored. Other URLs (links) are not touched here.
"""

from __future__ import annotations

import re
from typing import Any

from kefu.domain import UserType
from kefu.http.wire import ContentType, MessageFrame
from kefu.http.ws_sessions import KEFU_HALF, KEHU_HALF, Caller, own_id
from kefu.persistence import upload_records as records
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

PREFIX = "/api/uploads/"
URL = re.compile(r"^/api/uploads/(up_[0-9a-f]{32})$")
CARRIES_FILE = (ContentType.IMAGE, ContentType.FILE, ContentType.VOICE, ContentType.VIDEO)


async def with_upload(socket: Caller, f: MessageFrame) -> MessageFrame | None:
    """``f`` aimed at its upload's session, ``f`` itself when it carries no upload, or
    None after an ``error`` frame."""
    if f.url is None or not f.url.startswith(PREFIX):
        return f
    user, state, ref = socket.user, socket.state, f.client_msg_id
    assert user is not None
    if f.content_type not in CARRIES_FILE:
        socket.error(RejectReason.BAD_FRAME, "an upload is sent as Image or File", ref,
                     {"content_type": "Image, File, Voice or Video with an upload url"})
        return None
    match = URL.match(f.url)
    side = KEHU_HALF if user.user_type is UserType.KEHU else KEFU_HALF

    def look() -> dict[str, Any] | None:
        found = records.get(state.store, match.group(1)) if match else None
        if found is None or not own_id(user.id, found["session_id"], side):
            return None
        if f.session_id not in (None, found["session_id"]):
            return None
        if not state.history.is_active_for(found["session_id"], user.id):
            return None
        return found

    try:
        upload = await state.bridge.run_io(look)
    except REDIS_ERRORS:
        socket.error(RejectReason.STORAGE_UNAVAILABLE, "storage unavailable, retry", ref)
        return None
    if upload is None:
        socket.error(RejectReason.UPLOAD_NOT_FOUND,
                     "the url is not an upload of this conversation", ref)
        return None
    if f.content_type is ContentType.IMAGE and not upload["image"]:
        socket.error(RejectReason.BAD_FRAME, "the upload is not an image", ref,
                     {"content_type": "File for a file that is not an image"})
        return None
    return f.model_copy(update={"session_id": upload["session_id"]})
