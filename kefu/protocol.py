"""The WebSocket protocol's vocabulary: every server → client frame, every error code,
every close code (docs/protocol.md).

The ground floor: actors, the append log's callbacks and the HTTP layer all build their
frames here, and nothing here imports from them. A frame is JSON encoded once, on the
thread that produces it, and handed on as bytes (an already-stored message's JSON is
embedded as is, with ``orjson.Fragment``, never decoded and re-encoded).

:class:`RejectReason` is one vocabulary for every refusal: an actor's ``Rejected``, the
``code`` of an ``error`` frame and the ``error`` field of a REST error envelope. The HTTP
status of each lives in one table in ``kefu/http/handlers/base.py``.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

import orjson


class RejectReason(StrEnum):
    """Why something was refused (docs/protocol.md §6 lists what a client can see)."""

    # the frame itself (at the edge)
    INVALID_JSON = "invalid_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    CONTENT_TOO_LONG = "content_too_long"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    BAD_REQUEST = "bad_request"
    # sessions and messages
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_ENDED = "session_ended"
    SESSION_ACTIVE = "session_active"
    SESSION_NOT_ACTIVE = "session_not_active"
    NO_SESSION = "no_session"
    ALREADY_IN_SESSION = "already_in_session"
    ALREADY_RATED = "already_rated"
    # agents and customers
    KEFU_NOT_FOUND = "kefu_not_found"
    KEFU_FULL = "kefu_full"
    KEFU_UNAVAILABLE = "kefu_unavailable"
    KEFU_HAS_SESSIONS = "kefu_has_sessions"
    TRANSFER_SAME_KEFU = "transfer_same_kefu"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    TEAM_NOT_FOUND = "team_not_found"
    OFFER_GONE = "offer_gone"
    ACTOR_NOT_FOUND = "actor_not_found"
    UPLOAD_NOT_FOUND = "upload_not_found"  # a message's url names no upload of its session
    # the system
    MAINTENANCE = "maintenance"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    OUTCOME_UNKNOWN = "outcome_unknown"
    ACTOR_FAILED = "actor_failed"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


class CloseCode(IntEnum):
    """WebSocket close codes the server sends (docs/protocol.md §7)."""

    GOING_AWAY = 1001  # server closing
    POLICY = 1008  # too many connections, frame flood
    SERVICE_RESTART = 1012  # cluster mode: frames may have been lost, reconnect and resume
    TRY_AGAIN = 1013  # Redis unreachable during the handshake
    UNAUTHORIZED = 4401  # bad token, or its token was revoked


def encode(kind: str, **fields: Any) -> bytes:
    """Any frame: ``{"type": kind, **fields}`` as JSON bytes."""
    fields["type"] = kind
    return orjson.dumps(fields)


def error(code: RejectReason | str, ref: str | None = None, message: str | None = None,
          **extra: Any) -> bytes:
    """An ``error`` frame; ``message`` defaults to the code itself."""
    return encode("error", code=str(code), message=message or str(code), ref=ref, **extra)


def ack(client_msg_id: str | None, msg_json: bytes) -> bytes:
    """The ``ack`` of a stored message (its JSON embedded as is)."""
    return orjson.dumps({"type": "ack", "client_msg_id": client_msg_id,
                         "message": orjson.Fragment(msg_json)})


def message(msg_json: bytes) -> bytes:
    """A stored message delivered to a participant (its JSON embedded as is)."""
    return orjson.dumps({"type": "message", "message": orjson.Fragment(msg_json)})


def message_of(stored: dict[str, Any]) -> bytes:
    """A stored message read back from Redis (``resume``)."""
    return orjson.dumps({"type": "message", "message": stored})


def server_closing(server_time: str | None) -> bytes:
    return encode("server_closing", server_time=server_time, reconnect=True)


def pong(server_time: str | None) -> bytes:
    return encode("pong", server_time=server_time)


def typing(session_id: str, user_id: str) -> bytes:
    return encode("typing", session_id=session_id, user_id=user_id)


def read(session_id: str, user_id: str, seq: int) -> bytes:
    return encode("read", session_id=session_id, user_id=user_id, seq=seq)


def rated(session_id: str, score: int, comment: str | None) -> bytes:
    return encode("rated", session_id=session_id, score=score, comment=comment)


def resumed(session_id: str, count: int, last_seq: int) -> bytes:
    return encode("resumed", session_id=session_id, count=count, last_seq=last_seq)


def presence(user_id: str, status: str) -> bytes:
    return encode("presence", user_id=user_id, status=status)


def switched(kefu_id: str, customer_id: str, session_id: str, switch_time: str | None) -> bytes:
    return encode("switched", kefu_id=kefu_id, customer_id=customer_id,
                  session_id=session_id, switch_time=switch_time)


def queued(position: int, priority: str, estimated_wait_seconds: int | None,
           waiting_since: int, team: str | None = None) -> bytes:
    """``position`` in the queue of ``team`` (None: the customers without a team)."""
    return encode("queued", position=position, priority=priority,
                  estimated_wait_seconds=estimated_wait_seconds, waiting_since=waiting_since,
                  team=team)


def offer(offer_id: str, customer: dict[str, str], team: str | None, preview: str | None,
          expires_at: str, expires_in_seconds: float) -> bytes:
    """To an agent: a customer of ``team`` is offered to it until ``expires_at``; it
    answers ``accept`` or ``decline`` with ``offer_id``."""
    return encode("offer", offer_id=offer_id, customer=customer, team=team, preview=preview,
                  expires_at=expires_at, expires_in_seconds=expires_in_seconds)


def offer_closed(offer_id: str, customer_id: str, outcome: str) -> bytes:
    """To the agent an offer was made to: it ended — ``accepted`` (``assigned`` follows or
    came), ``declined``, ``expired``, ``withdrawn`` (the customer was assigned otherwise,
    or the agent is no longer available)."""
    return encode("offer_closed", offer_id=offer_id, customer_id=customer_id, outcome=outcome)


def connecting(team: str | None, active: bool = True) -> bytes:
    """To a waiting customer: an agent is being connected (it was offered to one), or
    (``active`` false) that offer fell through and it waits again."""
    return encode("connecting", team=team, active=active)


def leave_message(team: str | None, reason: str, queued: bool,
                  next_open: str | None = None) -> bytes:
    """To a customer: it may leave a message instead of chatting — ``outside_hours`` (not
    queued; ``next_open`` when the team opens again), ``nobody_online`` or ``max_wait``
    (still queued: it may keep waiting)."""
    return encode("leave_message", team=team, reason=reason, queued=queued,
                  next_open=next_open)


def message_left(left: dict[str, Any]) -> bytes:
    """To the online agents who could answer it: a customer left a message."""
    return encode("message_left", left=left)


def workload(agents: list[dict[str, Any]], waiting: dict[str, Any], offers: int,
             active_sessions: int) -> bytes:
    """To the dashboards (admins' sockets) and the online agents, when it changed (at
    most once a tick): every agent's live load, the queue's size per team, the offers
    out and the active sessions."""
    return encode("workload", agents=agents, waiting=waiting, offers=offers,
                  active_sessions=active_sessions)


def away(reason: str, misses: int) -> bytes:
    """To an agent the server set ``away`` (``missed_offers``: it let ``misses`` offers in
    a row expire)."""
    return encode("away", status="away", reason=reason, misses=misses)


def waiting(view: dict[str, Any]) -> bytes:
    """To every online agent when the queue changed (at most once per tick): the first
    customers of ``GET /api/kefu/waiting``'s list and the total."""
    return encode("waiting", **view)


def assigned(session: dict[str, Any], kefu: dict[str, Any], kehu: dict[str, Any]) -> bytes:
    return encode("assigned", session=session, kefu=kefu, kehu=kehu)


def transferred(by: str | None, session: dict[str, Any], **data: Any) -> bytes:
    """``data``: the transfer's reply fields (session_id, from/to kefu, new_session_id…)."""
    return encode("transferred", **data, by=by, session=session)


def session_ended(session_id: str, reason: str, by: str | None, ended_at: str | None) -> bytes:
    return encode("session_ended", session_id=session_id, reason=reason, by=by,
                  ended_at=ended_at)
