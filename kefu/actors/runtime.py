"""What every actor shares: settings, Redis, the append log, the Outbox to sockets, the
registry of handles, the supervisor's handle and the structured system log.

Built once by ``kefu/assembly.py`` (for the server and for the actor tests alike) and
never changed after start-up; every method is thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from kefu.config import Settings
from kefu.persistence.redis import REDIS_ERRORS, Store
from kefu.persistence.users import UserStore

if TYPE_CHECKING:
    from kefu.actors.handles import ActorHandle, Registry
    from kefu.actors.messages import ActorDied
    from kefu.persistence.appends import AppendLog

log = logging.getLogger("kefu.events")
UNSTORED_EVENTS = 1000  # system events kept in memory while Redis is away


class Outbox(Protocol):
    """Frames to sockets. Every method is thread-safe and never blocks: the real one
    (``http/connections.py``) hops onto the IOLoop."""

    def to_conn(self, conn_id: int | None, frame: bytes, sid: str | None = None,
                seq: int | None = None) -> None:
        """One frame to one connection (``sid``/``seq``: a stored message it now holds)."""

    def to_users(self, user_ids: Iterable[str], frame: bytes,
                 exclude_conn: int | None = None) -> None:
        """One frame to every connection of ``user_ids`` but ``exclude_conn``."""

    def message(self, user_ids: Iterable[str], sid: str, seq: int, frame: bytes,
                exclude_conn: int | None = None) -> None:
        """A stored message to every connection of ``user_ids`` that lacks that seq."""

    def connection_counts(self) -> dict[str, int]:
        """Live connections per user (a restarted dispatcher reads them back)."""

    def route(self, kehu_id: str, sid: str, route_seq: int) -> None:
        """The kehu's message number ``route_seq`` is in session ``sid``'s mailbox: its
        later messages may go straight there (see ``Hub.next_route``)."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    users: UserStore
    outbox: Outbox
    registry: Registry
    appends: AppendLog
    supervisor: ActorHandle | None = None
    started_at: float = field(default_factory=time.time)
    _unstored: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=UNSTORED_EVENTS))
    _unstored_lock: threading.Lock = field(default_factory=threading.Lock)

    # handles ----------------------------------------------------------------------
    def dispatcher(self) -> ActorHandle:
        return self.registry.get("dispatcher", "main")

    def session(self, sid: str) -> ActorHandle:
        """The handle of session ``sid`` (made if absent: for ids the server trusts)."""
        return self.registry.get("session", sid)

    def find_session(self, sid: str) -> ActorHandle | None:
        """The handle of session ``sid`` if one exists already (never makes one)."""
        return self.registry.find(f"session:{sid}")

    def agent(self, kefu_id: str) -> ActorHandle:
        return self.registry.get("agent", kefu_id)

    def supervisor_told(self, died: ActorDied) -> None:
        """Report a dead actor to the supervisor (called on the dying actor's thread)."""
        if self.supervisor is not None:
            self.supervisor.tell(died)

    def event(self, level: str, actor: str, event: str, **fields: Any) -> None:
        """A structured system event: logged, and appended to the capped Redis stream.

        While Redis is away the entry waits in memory (the last ``UNSTORED_EVENTS``) and is
        stored, in order, with the next event that can be.

        Args:
            level: ``info``, ``warning``, ``error`` or ``critical``.
            actor: who it is about (``dispatcher:main``, ``server``, ``redis``…).
            event: what happened, one word (``actor_restarted``).
            **fields: details, JSON-encoded (anything else as its ``str``).
        """
        log.log(logging.getLevelName(level.upper()), "%s %s %s", actor, event, fields)
        entry = {"level": level, "actor": actor, "event": event, "ts": time.time(),
                 "fields": orjson.dumps(fields, default=str).decode()}
        with self._unstored_lock:
            self._unstored.append(entry)
            try:
                pipe = self.store.client.pipeline(transaction=False)
                for e in self._unstored:
                    pipe.xadd(self.store.keys.system_log, e, maxlen=100_000, approximate=True)
                pipe.execute()
            except REDIS_ERRORS:
                return
            self._unstored.clear()
