"""Messages between actors and from the IOLoop to actors: plain frozen data.

Commands are imperative (``AssignCustomer``), events past tense (``SessionChanged``),
replies :class:`Accepted` / :class:`Rejected`. Every message is a frozen, slotted
dataclass — loggable, comparable, cheap to make on the hot path — and carries no reply
address: whoever wants an answer puts the message in an :class:`Envelope` with a
``reply`` callable (``ActorHandle.ask``), as pykka does with its own envelopes. The actor
calls ``reply`` exactly once, on its own thread; ``http/bridge.py`` turns that into an
awaitable on the IOLoop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kefu.domain import AgentStatus, Priority
from kefu.protocol import RejectReason

if TYPE_CHECKING:
    from kefu.actors.post import Post
    from kefu.persistence.appends import Appended

ReplyFn = Callable[[Any], None]
Receipt = tuple[str, str]  # cluster mode: (inbox stream, entry id) of a message to XACK

_MSG = {"frozen": True, "slots": True, "kw_only": True}


@dataclass(**_MSG)
class ActorMessage:
    """The base of every actor message."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message and, for an ask, where its answer goes (called once, on the actor's
    thread). What actually travels through a pykka mailbox. ``receipt``: the message came
    from a shard's inbox stream (cluster mode) and is acknowledged once handled."""

    msg: ActorMessage
    reply: ReplyFn | None = None
    receipt: Receipt | None = None


# --- replies -------------------------------------------------------------------------


@dataclass(**_MSG)
class Accepted:
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(**_MSG)
class Rejected:
    """A business refusal: ``reason`` is the code a client sees (REST ``error``, WS
    ``error.code``); ``params`` fill its message."""

    reason: RejectReason
    params: dict[str, Any] = field(default_factory=dict)


# --- time and the dispatcher ----------------------------------------------------------


@dataclass(**_MSG)
class Tick(ActorMessage):
    now: float



@dataclass(**_MSG)
class RequestService(ActorMessage):
    kehu_id: str
    kehu_name: str
    priority: Priority = Priority.NORMAL
    note: str | None = None
    conn_id: int | None = None
    team: str | None = None  # the team it enters through (None: any agent)


@dataclass(**_MSG)
class CustomerMessage(ActorMessage):
    """A kehu's chat message: to its active session, or kept while it waits."""

    kehu_id: str
    kehu_name: str
    conn_id: int | None
    client_msg_id: str | None
    content: str
    content_type: str
    url: str | None = None
    route_seq: int = 0  # the loop's per-kehu count of chat messages (see Hub.next_route)


@dataclass(**_MSG)
class AgentPresence(ActorMessage):
    """A kefu's live sockets on ``node`` (its id; '' in single-process mode)."""

    kefu_id: str
    connections: int
    opened: bool = False  # a connection just opened (connecting makes an agent available)
    node: str = ""


@dataclass(**_MSG)
class CustomerPresence(ActorMessage):
    """A kehu's first socket on ``node`` opened (online) or its last one closed."""

    kehu_id: str
    online: bool
    node: str = ""


@dataclass(**_MSG)
class SetAgentStatus(ActorMessage):
    kefu_id: str
    status: AgentStatus


@dataclass(**_MSG)
class RegisterAgent(ActorMessage):
    kefu_id: str
    name: str
    max_sessions: int


@dataclass(**_MSG)
class UnregisterAgent(ActorMessage):
    """Forget a kefu whose user is being deleted; refused while it has active sessions,
    so nobody is left in a session with a kefu that no longer exists."""

    kefu_id: str


@dataclass(**_MSG)
class AssignCustomer(ActorMessage):
    kehu_id: str
    kehu_name: str
    kefu_id: str | None = None
    priority: Priority = Priority.NORMAL
    note: str | None = None
    force: bool = False


@dataclass(**_MSG)
class TransferSession(ActorMessage):
    """To an agent (``to_kefu_id``) or to the front of a team's queue (``to_team``)."""

    session_id: str
    to_kefu_id: str | None
    by_user: str
    reason: str | None = None
    note: str | None = None
    to_team: str | None = None


@dataclass(**_MSG)
class AnswerOffer(ActorMessage):
    """An agent accepts (or declines) the customer offered to it."""

    kefu_id: str
    offer_id: str
    accept: bool
    conn_id: int | None = None


@dataclass(**_MSG)
class WatcherPresence(ActorMessage):
    """An admin's first socket on ``node`` opened or its last one closed: the dashboard
    it shows gets the live ``workload`` and ``waiting`` frames while it is open."""

    user_id: str
    online: bool
    node: str = ""


@dataclass(**_MSG)
class MessageLeft(ActorMessage):
    """A customer left a message (stored): it stops waiting, and the agents who could
    answer it are told."""

    kehu_id: str
    left: dict[str, Any]


@dataclass(**_MSG)
class TeamsChanged(ActorMessage):
    """An admin changed a team or its members: the dispatcher reads the teams again."""


@dataclass(**_MSG)
class EndSession(ActorMessage):
    session_id: str
    reason: str = "ended"
    by_user: str | None = None


@dataclass(**_MSG)
class SwitchCustomer(ActorMessage):
    kefu_id: str
    customer_id: str


@dataclass(**_MSG)
class GetWaiting(ActorMessage):
    pass


@dataclass(**_MSG)
class GetDispatcherState(ActorMessage):
    """Operators' and tests' read of the dispatcher's in-memory state."""


@dataclass(**_MSG)
class AgentFiguresAdded(ActorMessage):
    """Event from a session: a kefu answered after ``response_seconds``, or was rated."""

    kefu_id: str
    response_seconds: float | None = None
    rating: int | None = None


# --- agent ---------------------------------------------------------------------------


@dataclass(**_MSG)
class CustomerAssigned(ActorMessage):
    kehu_id: str
    session_id: str


@dataclass(**_MSG)
class CustomerReleased(ActorMessage):
    kehu_id: str
    session_id: str


@dataclass(**_MSG)
class FocusCustomer(ActorMessage):
    customer_id: str


@dataclass(**_MSG)
class AgentMessage(ActorMessage):
    """A kefu's chat message with no ``session_id``: goes to its focused customer."""

    kefu_id: str
    conn_id: int | None
    client_msg_id: str | None
    content: str
    content_type: str
    url: str | None = None


# --- session -------------------------------------------------------------------------


@dataclass(**_MSG)
class PostMessage(ActorMessage):
    sender_id: str
    conn_id: int | None
    client_msg_id: str | None
    content: str
    content_type: str
    url: str | None = None
    route_seq: int = 0  # a kehu's message: as in CustomerMessage


@dataclass(**_MSG)
class AppendOutcome(ActorMessage):
    """Event from the append log: an append that was not simply stored."""

    post: Post
    appended: Appended


@dataclass(**_MSG)
class AppendsSettled(ActorMessage):
    """Event from the append log: every append this session submitted before asking has
    been decided (its outcome, if any, is already in the mailbox)."""


@dataclass(**_MSG)
class MarkRead(ActorMessage):
    user_id: str
    seq: int | None = None  # None: everything so far
    conn_id: int | None = None


@dataclass(**_MSG)
class RateSession(ActorMessage):
    user_id: str
    score: int
    comment: str | None = None
    conn_id: int | None = None


@dataclass(**_MSG)
class SessionChanged(ActorMessage):
    """The dispatcher opened, reopened or closed this session; ``generation`` is the
    session's change counter after that change (an actor that loaded at least that
    generation need not read Redis again)."""

    generation: int = 0


# --- supervision ---------------------------------------------------------------------


@dataclass(**_MSG)
class Crash(ActorMessage):
    """The receiving actor dies on purpose: fault injection (``KEFU_FAULT_INJECTION``),
    or ``operator=True`` for an operator's restart (not counted against intensity)."""

    operator: bool = False


@dataclass(**_MSG)
class ActorDied(ActorMessage):
    """Event to the supervisor: the actor ``actor_id`` died (its undelivered messages
    wait in its handle)."""

    actor_id: str
    error: str
    operator: bool = False


@dataclass(**_MSG)
class RestartActor(ActorMessage):
    actor_id: str


# --- maintenance (SPEC §7) -------------------------------------------------------------


@dataclass(**_MSG)
class SetMaintenance(ActorMessage):
    """Turn maintenance mode on or off: the dispatcher stores it, then refuses new kehu
    (an ``error`` frame with code ``maintenance`` and ``message``) while it is on."""

    enabled: bool
    message: str = ""
    by: str | None = None
    since: float | None = None
