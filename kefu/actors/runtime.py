"""What every actor shares: settings, Redis, the writer, the outbox to sockets, the
registry of handles and the structured system log."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from kefu.config import Settings
from kefu.persistence.redis import REDIS_ERRORS, Store
from kefu.persistence.users import UserStore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kefu.actors.handles import ActorHandle, Registry
    from kefu.persistence.writer import Writer

log = logging.getLogger("kefu.events")
UNSTORED_EVENTS = 1000  # system events kept in memory while Redis is away


class Outbox(Protocol):
    """Frames to sockets. Every method is thread-safe and never blocks: the real one
    (``http/connections.py``) hops onto the IOLoop with ``add_callback``."""

    def to_conn(self, conn_id: int | None, frame: bytes, sid: str | None = None,
                seq: int | None = None) -> None: ...

    def to_users(self, user_ids: Iterable[str], frame: bytes,
                 exclude_conn: int | None = None) -> None: ...

    def message(self, user_ids: Iterable[str], sid: str, seq: int, frame: bytes,
                exclude_conn: int | None = None) -> None: ...

    def connection_counts(self) -> dict[str, int]: ...

    def route(self, kehu_id: str, sid: str, route_seq: int) -> None:
        """The dispatcher has put the kehu's message number ``route_seq`` into session
        ``sid``'s mailbox (see ``Hub.route``)."""


def frame(kind: str, **fields: Any) -> bytes:
    """Encode one server → client frame (once, on the sender's thread)."""
    fields["type"] = kind
    return orjson.dumps(fields)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    users: UserStore
    outbox: Outbox
    registry: Registry
    writer: Writer | None = None
    supervisor: Any = None  # pykka ActorRef of the supervisor
    started_at: float = field(default_factory=time.time)
    _unstored: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=UNSTORED_EVENTS))
    _unstored_lock: threading.Lock = field(default_factory=threading.Lock)

    # handles ----------------------------------------------------------------------
    def dispatcher(self) -> ActorHandle:
        return self.registry.get("dispatcher", "main")

    def session(self, sid: str) -> ActorHandle:
        return self.registry.get("session", sid)

    def find_session(self, sid: str) -> ActorHandle | None:
        """The handle of session ``sid`` if one exists already (never creates one)."""
        return self.registry.find(f"session:{sid}")

    def agent(self, kefu_id: str) -> ActorHandle:
        return self.registry.get("agent", kefu_id)

    def supervisor_died(self, handle: ActorHandle, leftovers: list[Any], error: str) -> None:
        """Thread-safe: report a dead actor to the supervisor."""
        from kefu.actors.messages import ActorDied  # noqa: PLC0415

        if self.supervisor is not None:
            self.supervisor.tell(ActorDied(handle=handle, leftovers=leftovers, error=error))

    def event(self, level: str, actor: str, event: str, **fields: Any) -> None:
        """A structured system event: logged, and appended to the capped Redis stream.

        Thread-safe. While Redis is away the entry waits in memory (the last
        ``UNSTORED_EVENTS``) and is stored, in order, with the next event that can be."""
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
