"""The connection registry (the Outbox): which sockets belong to which user.

It lives on the IOLoop; actors and the writer call its public methods from their own
threads, which only schedule work with ``add_callback``. Per connection and session it
remembers which ``seq`` it has delivered (:class:`SeqTracker`), so a ``resume`` after live
traffic sends every missed message exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tornado.ioloop import IOLoop

from kefu.http.seq_tracker import SeqTracker


class Socket(Protocol):
    def send_frame(self, data: bytes) -> None: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


@dataclass
class Conn:
    """One live socket. ``address`` is the client's (``client_address.py``) and
    ``token`` the SHA-256 of the token it was opened with (revoking that token closes
    it). At most ``max_tracked`` sessions keep a :class:`SeqTracker`; past that the
    oldest is forgotten (its session's exactly-once then rests on the client's
    ``resume`` floor)."""

    id: int
    user_id: str
    user_type: str
    socket: Socket
    address: str = ""
    token: str = ""
    max_tracked: int = 1000
    seqs: dict[str, SeqTracker] = field(default_factory=dict)
    resuming: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)

    def tracker(self, sid: str) -> SeqTracker:
        t = self.seqs.get(sid)
        if t is None:
            if len(self.seqs) >= self.max_tracked:
                del self.seqs[next(iter(self.seqs))]
            t = self.seqs[sid] = SeqTracker()
        return t

    def deliver(self, sid: str, seq: int, data: bytes) -> None:
        """Send a stored message unless this connection already has it (loop thread)."""
        buffer = self.resuming.get(sid)
        if buffer is not None:
            buffer.append((seq, data))
            return
        tracker = self.tracker(sid)
        if tracker.has(seq):
            return
        tracker.add(seq)
        self.socket.send_frame(data)


class Route:
    """Where a kehu's next chat message goes, and how many it has sent (loop thread).

    A kehu's messages go through the dispatcher (which knows its session, or keeps them
    while it waits) until the dispatcher reports, with ``route``, that it has put message
    number ``n`` into session ``sid``'s mailbox. If ``n`` is the last one the loop sent,
    nothing of this kehu is still inside the dispatcher, so later messages may go straight
    to the session and still arrive behind the earlier ones. A session that is no longer
    active hands a kehu's message back to the dispatcher, so a stale route costs a hop,
    never a message or the order."""

    __slots__ = ("sent", "sid")

    def __init__(self) -> None:
        self.sid: str | None = None
        self.sent = 0


class Hub:
    """Registry of live connections; implements the actors' ``Outbox``."""

    def __init__(self, loop: IOLoop | None = None, id_base: int = 0,
                 on_count: Callable[[str, str, int], None] | None = None) -> None:
        """``id_base``: connection ids start above it (cluster mode: the node's salt in
        the high bits). ``on_count(user, type, sockets)``: called on the loop whenever a
        user's number of sockets here changes (cluster mode: presence in Redis)."""
        self.loop = loop or IOLoop.current()
        self.conns: dict[int, Conn] = {}
        self.by_user: dict[str, set[int]] = {}
        self._ids = itertools.count(id_base + 1)
        self.on_count = on_count
        self._pending: collections.deque[tuple[Any, tuple[Any, ...]]] = collections.deque()
        self._pending_lock = threading.Lock()
        self._drain_scheduled = False
        self._counts_lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.routes: dict[str, Route] = {}
        self.by_address: dict[str, int] = {}
        self.typing_at: dict[tuple[str, str], float] = {}  # (sender, sid) → last relayed
        self._emptied: asyncio.Event | None = None  # set when shut_down saw the last go

    # --- loop thread ----------------------------------------------------------------

    def add(self, user_id: str, user_type: str, socket: Socket, address: str = "",
            token: str = "", max_tracked: int = 1000) -> Conn:
        conn = Conn(next(self._ids), user_id, user_type, socket, address, token, max_tracked)
        self.conns[conn.id] = conn
        self.by_user.setdefault(user_id, set()).add(conn.id)
        self.by_address[address] = self.by_address.get(address, 0) + 1
        with self._counts_lock:
            self._counts[user_id] = len(self.by_user[user_id])
        if self.on_count is not None:
            self.on_count(user_id, user_type, len(self.by_user[user_id]))
        return conn

    def remove(self, conn: Conn) -> int:
        """Forget a connection; returns how many the user still has."""
        if self.conns.pop(conn.id, None) is not None:
            left_here = self.by_address.get(conn.address, 1) - 1
            if left_here > 0:
                self.by_address[conn.address] = left_here
            else:
                self.by_address.pop(conn.address, None)
        ids = self.by_user.get(conn.user_id)
        left = 0
        if ids is not None:
            ids.discard(conn.id)
            left = len(ids)
            if not ids:
                del self.by_user[conn.user_id]
                self.routes.pop(conn.user_id, None)
        with self._counts_lock:
            if left:
                self._counts[conn.user_id] = left
            else:
                self._counts.pop(conn.user_id, None)
        if self.on_count is not None:
            self.on_count(conn.user_id, conn.user_type, left)
        if not self.conns and self._emptied is not None:
            self._emptied.set()
        return left

    def count(self, user_id: str) -> int:
        return len(self.by_user.get(user_id, ()))

    def count_address(self, address: str) -> int:
        return self.by_address.get(address, 0)

    def close_user(self, user_id: str, code: int, reason: str,
                   tokens: Iterable[str] | None = None) -> int:
        """Close ``user_id``'s sockets — only those opened with one of ``tokens``
        (SHA-256 digests) when given → how many were closed."""
        wanted = None if tokens is None else set(tokens)
        closed = 0
        for cid in list(self.by_user.get(user_id, ())):
            conn = self.conns.get(cid)
            if conn is not None and (wanted is None or conn.token in wanted):
                conn.socket.close(code, reason)
                closed += 1
        return closed

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket (loop thread)."""
        for conn in list(self.conns.values()):
            conn.socket.close(code, reason)

    def send_to_users(self, user_ids: Iterable[str], data: bytes,
                      exclude: int | None = None) -> None:
        """Send a frame to every connection of ``user_ids`` (but ``exclude``)."""
        self._to_users(user_ids, data, exclude)

    def typing_allowed(self, sender: str, sid: str, at: float, interval: float) -> bool:
        """Relay at most one ``typing`` per sender and session per ``interval`` seconds.
        The table forgets entries older than ``interval`` whenever it grows large."""
        key = (sender, sid)
        last = self.typing_at.get(key)
        if last is not None and at - last < interval:
            return False
        if len(self.typing_at) >= 10_000:
            self.typing_at = {k: t for k, t in self.typing_at.items() if at - t < interval}
        self.typing_at[key] = at
        return True

    def next_route(self, kehu_id: str) -> tuple[str | None, int]:
        """Count one more chat message of ``kehu_id``: (its session if it may go straight
        there, else None for the dispatcher; its number)."""
        route = self.routes.get(kehu_id)
        if route is None:
            route = self.routes[kehu_id] = Route()
        route.sent += 1
        return route.sid, route.sent

    def _route(self, kehu_id: str, sid: str, route_seq: int) -> None:
        route = self.routes.get(kehu_id)
        if route is not None and route.sent == route_seq:
            route.sid = sid

    def _to_conn(self, conn_id: int | None, data: bytes, sid: str | None, seq: int | None) -> None:
        conn = self.conns.get(conn_id) if conn_id is not None else None
        if conn is None:
            return
        if sid is not None and seq is not None:
            conn.tracker(sid).add(seq)
        conn.socket.send_frame(data)

    def _to_users(self, user_ids: Iterable[str], data: bytes, exclude: int | None) -> None:
        for uid in user_ids:
            for cid in list(self.by_user.get(uid, ())):
                if cid != exclude:
                    self.conns[cid].socket.send_frame(data)

    def _message(self, user_ids: Iterable[str], sid: str, seq: int, data: bytes,
                 exclude: int | None) -> None:
        for uid in user_ids:
            for cid in list(self.by_user.get(uid, ())):
                if cid != exclude:
                    self.conns[cid].deliver(sid, seq, data)

    async def shut_down(self, frame: bytes, code: int, reason: str, timeout: float) -> None:
        """Send ``frame`` to every connection and close each with ``code``: the close
        frame follows on the same stream, after it. Then wait (at most ``timeout``
        seconds) until every connection is gone (Tornado does not close WebSockets for
        us at shut-down)."""
        for conn in list(self.conns.values()):
            conn.socket.send_frame(frame)
            conn.socket.close(code, reason)
        if self.conns:
            self._emptied = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emptied.wait(), timeout)

    # --- any thread (the Outbox) ----------------------------------------------------
    # Frames from other threads go into one FIFO; a single loop callback drains it. One
    # wake-up of the loop per burst instead of one per frame (each ``add_callback`` writes
    # to the loop's self-pipe, which fills under load).

    def _post(self, fn: Any, *args: Any) -> None:
        self._pending.append((fn, args))
        with self._pending_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self.loop.add_callback(self._drain)

    def _drain(self) -> None:
        with self._pending_lock:
            self._drain_scheduled = False
        pending = self._pending
        while pending:
            fn, args = pending.popleft()
            fn(*args)

    def to_conn(self, conn_id: int | None, frame: bytes, sid: str | None = None,
                seq: int | None = None) -> None:
        """One frame to one connection. Thread-safe; never blocks.

        Args:
            conn_id: the connection (None: nobody; the frame is dropped).
            frame: the encoded frame (``kefu.protocol``).
            sid: with ``seq``, a stored message this frame carries (an ``ack``): the
                connection counts it as held, so a later delivery or resume skips it.
            seq: see ``sid``.
        """
        if conn_id is not None:
            self._post(self._to_conn, conn_id, frame, sid, seq)

    def to_users(self, user_ids: Iterable[str], frame: bytes,
                 exclude_conn: int | None = None) -> None:
        """One frame to every connection of ``user_ids`` but ``exclude_conn``.
        Thread-safe; never blocks."""
        self._post(self._to_users, tuple(user_ids), frame, exclude_conn)

    def message(self, user_ids: Iterable[str], sid: str, seq: int, frame: bytes,
                exclude_conn: int | None = None) -> None:
        """A stored message (``sid``/``seq``) to every connection of ``user_ids`` that has
        not had it (each connection's :class:`SeqTracker`). Thread-safe; never blocks."""
        self._post(self._message, tuple(user_ids), sid, seq, frame, exclude_conn)

    def route(self, kehu_id: str, sid: str, route_seq: int, conn_id: int | None = None) -> None:
        """Thread-safe (the dispatcher, or the cluster's subscriber): see :class:`Route`."""
        self._post(self._route, kehu_id, sid, route_seq)

    def connection_counts(self) -> dict[str, int]:
        """Live connections per user. Thread-safe (a restarted dispatcher reads it)."""
        with self._counts_lock:
            return dict(self._counts)

    def presence(self) -> dict[str, dict[str, int]]:
        """The one node's connection counts (single-process mode). Thread-safe."""
        return {"": self.connection_counts()}

    def kick_all(self, code: int, reason: str) -> None:
        """:meth:`close_all` from any thread (never blocks)."""
        self._post(self.close_all, code, reason)

    def kick(self, user_id: str, code: int, reason: str,
             tokens: Iterable[str] | None = None) -> None:
        """:meth:`close_user` from any thread (never blocks)."""
        self._post(self.close_user, user_id, code, reason,
                   None if tokens is None else tuple(tokens))

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.conns), "users": len(self.by_user)}
