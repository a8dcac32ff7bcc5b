"""WebSocket client → server frames: validated once, at the edge.

Limits (also in docs/protocol.md): a frame is at most ``KEFU_MAX_FRAME_BYTES`` (64 KiB,
larger ones close the socket with 1009); text content at most ``KEFU_MAX_TEXT_CHARS``
(4,000 characters); ids at most 128 characters; a ``resume`` names at most 200 sessions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError

from kefu.domain import Priority
from kefu.http.clean_text import CleanLine, CleanText
from kefu.protocol import RejectReason

Id = Annotated[str, Strict(), Field(min_length=1, max_length=128)]
Sid = Annotated[str, Strict(), Field(min_length=3, max_length=300)]
Seq = Annotated[int, Strict(), Field(ge=0)]


class ContentType(StrEnum):
    TEXT = "Text"
    IMAGE = "Image"
    FILE = "File"
    VOICE = "Voice"
    VIDEO = "Video"
    LINK = "Link"


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MessageFrame(_Frame):
    type: Literal["message"]
    client_msg_id: Id
    content: Annotated[CleanText, Strict(), Field(min_length=1, max_length=10_000_000)]
    content_type: ContentType = ContentType.TEXT
    url: Annotated[CleanLine, Strict(), Field(max_length=2048)] | None = None
    session_id: Annotated[str, Strict(), Field(max_length=300)] | None = None


class ReadFrame(_Frame):
    type: Literal["read"]
    session_id: Sid
    seq: Seq | None = None


class TypingFrame(_Frame):
    type: Literal["typing"]
    session_id: Sid


class ResumeFrame(_Frame):
    type: Literal["resume"]
    since: Annotated[dict[Annotated[str, Field(max_length=300)], Seq], Field(max_length=200)]


class RequestServiceFrame(_Frame):
    type: Literal["request_service"]
    priority: Priority = Priority.NORMAL
    note: Annotated[CleanText, Strict(), Field(max_length=500)] | None = None
    team: Annotated[str, Strict(), Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] | None = None


class SwitchFrame(_Frame):
    type: Literal["switch"]
    customer_id: Id


class RateFrame(_Frame):
    type: Literal["rate"]
    session_id: Sid
    score: Annotated[int, Strict(), Field(ge=1, le=5)]
    comment: Annotated[CleanText, Strict(), Field(max_length=1000)] | None = None


class PingFrame(_Frame):
    type: Literal["ping"]


class NoteFrame(_Frame):
    """A private note to the other agents of a conversation (never to the customer)."""

    type: Literal["note"]
    session_id: Sid
    content: Annotated[CleanText, Strict(), Field(min_length=1, max_length=4000)]


class OfferAnswerFrame(_Frame):
    """An agent's answer to an ``offer``."""

    type: Literal["accept", "decline"]
    offer_id: Id


ClientFrame = Annotated[
    MessageFrame | ReadFrame | TypingFrame | ResumeFrame | RequestServiceFrame | SwitchFrame
    | RateFrame | PingFrame | OfferAnswerFrame | NoteFrame,
    Field(discriminator="type"),
]
AnyClientFrame = (MessageFrame | ReadFrame | TypingFrame | ResumeFrame | RequestServiceFrame
                  | SwitchFrame | RateFrame | PingFrame | OfferAnswerFrame | NoteFrame)
FRAME_TYPES = ("message", "read", "typing", "resume", "request_service", "switch", "rate",
               "ping", "accept", "decline", "note")
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientFrame)


class FrameError(Exception):
    """A frame that cannot be handled: ``code`` for the ``error`` frame."""

    def __init__(self, code: RejectReason, message: str, details: dict[str, str] | None = None,
                 ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.ref = ref


def parse_frame(raw: str | bytes, max_text_chars: int = 4000) -> AnyClientFrame:
    """Decode and validate one client frame, or raise :class:`FrameError`."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(RejectReason.INVALID_JSON, "frame is not valid JSON") from exc
    if not isinstance(data, dict):
        raise FrameError(RejectReason.BAD_FRAME, "a frame is a JSON object")
    kind = data.get("type")
    ref = data.get("client_msg_id") if isinstance(data.get("client_msg_id"), str) else None
    ref = ref or None
    if kind not in FRAME_TYPES:
        raise FrameError(RejectReason.UNKNOWN_TYPE, f"unknown frame type: {str(kind)[:40]!r}", ref=ref)
    try:
        parsed = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        details = {".".join(str(p) for p in err["loc"][1:]) or "frame": err["msg"]
                   for err in exc.errors()}
        raise FrameError(RejectReason.BAD_FRAME, "invalid frame", details, ref=ref) from exc
    if isinstance(parsed, MessageFrame) and len(parsed.content) > max_text_chars:
        raise FrameError(RejectReason.CONTENT_TOO_LONG, f"content over {max_text_chars} characters",
                         {"content": f"at most {max_text_chars} characters"}, ref=ref)
    return parsed
