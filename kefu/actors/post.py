"""What the actor side keeps of one submitted append (``delivery.py``): where its answer
goes and what the message said, should it have to be handed back. Frozen: it travels from
the session to the append log's thread and back inside an ``AppendOutcome``."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.protocol import RejectReason


@dataclass(frozen=True, slots=True)
class Post:
    """The actor side of one append: where the answer goes and what the message said."""

    conn_id: int | None
    recipient: str
    content: str
    content_type: str
    url: str | None
    route_seq: int = 0  # a kehu's message: its number on the loop (``Hub.next_route``)
    miss: RejectReason = RejectReason.STORAGE_UNAVAILABLE  # a resend found nothing stored
    receipt: tuple[str, str] | None = None  # its inbox entry (cluster mode): acked when decided
