"""Messages between actors and from the IOLoop to actors.

Commands are imperative, events past tense, replies :class:`Accepted` / :class:`Rejected`.
All are frozen pydantic models (pykka does not copy messages). A ``reply`` callable, when
present, is called exactly once with the reply from the actor's thread; ``http/bridge.py``
turns it into an awaitable on the IOLoop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.domain import AgentStatus, Priority

ReplyFn = Callable[[Any], None]


class Msg(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    reply: ReplyFn | None = None


# --- replies -------------------------------------------------------------------------


class Accepted(BaseModel):
    model_config = ConfigDict(frozen=True)

    data: dict[str, Any] = {}


class Rejected(BaseModel):
    """A business refusal: ``status`` is the HTTP status, ``reason`` an i18n key."""

    model_config = ConfigDict(frozen=True)

    status: int
    reason: str
    params: dict[str, Any] = {}


# --- time ----------------------------------------------------------------------------


class Tick(Msg):
    now: float


# --- dispatcher ----------------------------------------------------------------------


class RequestService(Msg):
    kehu_id: str
    kehu_name: str
    priority: Priority = Priority.NORMAL
    note: str | None = None
    conn_id: int | None = None


class CustomerMessage(Msg):
    """A kehu's chat message: to its active session, or kept while it waits."""

    kehu_id: str
    kehu_name: str
    conn_id: int | None
    client_msg_id: str | None
    content: str
    content_type: str
    url: str | None = None
    route_seq: int = 0  # the loop's per-kehu count of chat messages (see Hub.route)


class AgentPresence(Msg):
    kefu_id: str
    connections: int
    opened: bool = False  # a connection just opened (connecting makes an agent available)


class CustomerPresence(Msg):
    kehu_id: str
    online: bool


class SetAgentStatus(Msg):
    kefu_id: str
    status: AgentStatus


class RegisterAgent(Msg):
    kefu_id: str
    name: str
    max_sessions: int


class UnregisterAgent(Msg):
    """Forget a kefu whose user is being deleted; refused (409) while it has active
    sessions, so nobody is left in a session with a kefu that no longer exists."""

    kefu_id: str


class AssignCustomer(Msg):
    kehu_id: str
    kehu_name: str
    kefu_id: str | None = None
    priority: Priority = Priority.NORMAL
    note: str | None = None
    force: bool = False


class TransferSession(Msg):
    session_id: str
    to_kefu_id: str
    reason: str | None = None
    note: str | None = None
    by_user: str


class EndSession(Msg):
    session_id: str
    reason: str = "ended"
    by_user: str | None = None


class SwitchCustomer(Msg):
    kefu_id: str
    customer_id: str


class GetWaiting(Msg):
    pass


class GetDispatcherState(Msg):
    """Operators' and tests' read of the dispatcher's in-memory state."""


class AgentFigures(Msg):
    """Event from a session: a response time or a rating for a kefu."""

    kefu_id: str
    response_seconds: float | None = None
    rating: int | None = None


# --- agent ---------------------------------------------------------------------------


class CustomerAssigned(Msg):
    kehu_id: str
    session_id: str


class CustomerReleased(Msg):
    kehu_id: str
    session_id: str


class FocusCustomer(Msg):
    customer_id: str


class AgentMessage(Msg):
    """A kefu's chat message with no ``session_id``: goes to its focused customer."""

    kefu_id: str
    conn_id: int | None
    client_msg_id: str | None
    content: str
    content_type: str
    url: str | None = None


# --- session -------------------------------------------------------------------------


class PostMessage(Msg):
    sender_id: str
    conn_id: int | None
    client_msg_id: str | None
    content: str
    content_type: str
    url: str | None = None
    route_seq: int = 0  # a kehu's message: as in CustomerMessage


class AppendOutcome(Msg):
    """Event from the writer: an append that was not simply stored."""

    item: Any
    status: str  # dup | conflict | closed | unavailable | stored
    detail: str = ""


class MarkRead(Msg):
    user_id: str
    seq: int | None = None  # None: everything so far
    conn_id: int | None = None


class RateSession(Msg):
    user_id: str
    score: int
    comment: str | None = None
    conn_id: int | None = None


class SessionChanged(Msg):
    """The dispatcher opened, reopened or closed this session: reload from Redis."""


# --- supervision ---------------------------------------------------------------------


class Crash(Msg):
    """The receiving actor dies on purpose: fault injection (``KEFU_FAULT_INJECTION``),
    or ``operator=True`` for an operator's restart (not counted against intensity)."""

    operator: bool = False


class ActorDied(Msg):
    handle: Any
    leftovers: list[Any]
    error: str


class RestartActor(Msg):
    actor_id: str


# --- maintenance (SPEC §7) -------------------------------------------------------------


class SetMaintenance(Msg):
    """Turn maintenance mode on or off: the dispatcher stores it, then refuses new kehu
    (an ``error`` frame with code ``maintenance`` and ``message``) while it is on."""

    enabled: bool
    message: str = ""
    by: str | None = None
    since: float | None = None
