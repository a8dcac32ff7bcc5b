"""A careful chat client, as a real app should be written (asyncio, Tornado WebSockets).

- It reconnects with capped exponential backoff and full jitter (seeded); given several
  URLs (a cluster's nodes) it picks one at random for every connection.
- Every message it sends stays *pending* until its ``ack``; after a reconnect, an
  ``error`` that says "try again" (``storage_unavailable``, ``actor_failed``…) or no answer
  within ``ack_timeout``, it is sent again with the same ``client_msg_id``.
- After a reconnect it sends ``resume`` with, per session, the highest ``seq`` up to which
  it has everything.
- It records what it saw: acks (a second ack for one ``client_msg_id`` must name the same
  stored message), every ``seq`` per session, and any ``seq`` delivered twice on one
  connection (the server promises exactly once per connection).

Everything runs on one asyncio loop (the drill's); nothing here blocks.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

RETRYABLE = {"storage_unavailable", "outcome_unknown", "actor_failed", "unavailable",
             "internal", "timeout", "rate_limited"}


@dataclass
class Pending:
    frame: dict[str, Any]
    sent_at: float = 0.0
    tries: int = 0
    retry_at: float | None = None


@dataclass
class ClientFigures:
    reconnects: int = 0
    resends: int = 0
    redelivered: int = 0  # one seq twice on one connection (as a message frame)
    ack_mismatch: int = 0  # one client_msg_id acked with two different stored messages
    errors: collections.Counter[str] = field(default_factory=collections.Counter)


class DrillClient:
    """One kehu or kefu. ``run()`` is its connection loop; ``send`` queues a message."""

    def __init__(self, url: str | list[str], token: str, user_id: str, role: str,
                 rng: random.Random, ack_timeout: float = 5.0, backoff_max: float = 2.0) -> None:
        # several URLs (the nodes of a cluster): a random one at every (re)connect
        self.urls = [f"{u}?token={quote(token)}" for u in ([url] if isinstance(url, str)
                                                           else url)]
        self.user_id, self.role = user_id, role
        self.rng = rng
        self.ack_timeout, self.backoff_max = ack_timeout, backoff_max
        self.ws: WebSocketClientConnection | None = None
        self.pending: dict[str, Pending] = {}  # insertion order = first send order
        self.acks: dict[str, dict[str, Any]] = {}
        self.first_sent: dict[str, float] = {}  # cmid → monotonic time of its first send
        self.acked_at: dict[str, float] = {}  # cmid → monotonic time of its first ack
        self.seen: dict[str, set[int]] = collections.defaultdict(set)
        self.conn_seen: dict[str, set[int]] = collections.defaultdict(set)
        self.sessions: set[str] = set()
        self.assigned = asyncio.Event()
        self.connected = asyncio.Event()
        self.idle = asyncio.Event()  # nothing pending
        self.idle.set()
        self.fig = ClientFigures()
        self.stopping = False
        self.ever_connected = False
        self.frames: list[dict[str, Any]] = []  # other frames, for tests to inspect

    # --- public ------------------------------------------------------------------------

    def send(self, cmid: str, content: str, session_id: str | None = None) -> None:
        """Queue a new message; it is sent now if connected, else on reconnect."""
        frame: dict[str, Any] = {"type": "message", "client_msg_id": cmid, "content": content}
        if session_id is not None:
            frame["session_id"] = session_id
        self.pending[cmid] = Pending(frame)
        self.first_sent[cmid] = time.monotonic()
        self.idle.clear()
        self._write(cmid)

    def frame(self, **fields: Any) -> None:
        """Send any other frame now (dropped if not connected)."""
        self._raw(fields)

    def floor(self, sid: str) -> int:
        """The highest seq up to which this client has every message of ``sid``."""
        seen, n = self.seen.get(sid, set()), 0
        while n + 1 in seen:
            n += 1
        return n

    async def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            self.ws.close()

    # --- the connection loop -----------------------------------------------------------

    async def run(self) -> None:
        """Connect, read until the socket closes, back off, reconnect — until ``stop``."""
        delay = 0.05
        sweeper = asyncio.ensure_future(self._sweep())
        try:
            while not self.stopping:
                try:
                    ws = await websocket_connect(self.rng.choice(self.urls), connect_timeout=2)
                except Exception:  # noqa: BLE001 - refused, reset, 1013: try again later
                    await asyncio.sleep(self.rng.uniform(0, delay))
                    delay = min(delay * 2, self.backoff_max)
                    continue
                hello = await ws.read_message()
                if hello is None:
                    await asyncio.sleep(self.rng.uniform(0, delay))
                    delay = min(delay * 2, self.backoff_max)
                    continue
                self._on_frame(orjson.loads(hello))
                self.ws = ws
                self.conn_seen = collections.defaultdict(set)
                if self.ever_connected:
                    self.fig.reconnects += 1
                    self._resume()
                    for cmid in list(self.pending):
                        self.fig.resends += 1
                        self._write(cmid)
                self.ever_connected = True
                self.connected.set()
                delay = 0.05
                while True:
                    raw = await ws.read_message()
                    if raw is None:
                        break
                    self._on_frame(orjson.loads(raw))
                self.ws = None
                self.connected.clear()
        finally:
            sweeper.cancel()

    async def _sweep(self) -> None:
        """Resend what errored (after its backoff) or got no answer in ``ack_timeout``."""
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for cmid, p in list(self.pending.items()):
                due = p.retry_at if p.retry_at is not None else p.sent_at + self.ack_timeout
                if p.sent_at and now >= due and self.ws is not None:
                    self.fig.resends += 1
                    self._write(cmid)

    def _resume(self) -> None:
        since = {sid: self.floor(sid) for sid in sorted(self.sessions)}
        if since:
            self._raw({"type": "resume", "since": since})

    def _write(self, cmid: str) -> None:
        p = self.pending.get(cmid)
        if p is None or self.ws is None:
            return
        p.tries += 1
        p.sent_at = time.monotonic()
        p.retry_at = None
        self._raw(p.frame)

    def _raw(self, frame: dict[str, Any]) -> None:
        if self.ws is None:
            return
        try:
            self.ws.write_message(orjson.dumps(frame).decode())
        except WebSocketClosedError:
            pass  # the read loop sees the close and reconnects

    # --- frames --------------------------------------------------------------------------

    def _saw(self, m: dict[str, Any], ack: bool = False) -> None:
        """A stored message reached this connection: as a ``message`` frame (which must
        come once per connection), or as the ``ack`` of our own send (which comes again
        for each resend of it: an answer, not a delivery)."""
        sid, seq = m.get("session_id"), m.get("seq")
        if sid is None or seq is None:
            return  # kept while waiting for an agent: numbered on assignment
        if seq in self.conn_seen[sid] and not ack:
            self.fig.redelivered += 1
        self.conn_seen[sid].add(seq)
        self.seen[sid].add(seq)
        self.sessions.add(sid)

    def _on_frame(self, f: dict[str, Any]) -> None:
        kind = f.get("type")
        if kind == "ack":
            cmid, m = f["client_msg_id"], f["message"]
            self.acked_at.setdefault(cmid, time.monotonic())
            first = self.acks.setdefault(cmid, m)
            if first["id"] != m["id"]:
                self.fig.ack_mismatch += 1
            self.pending.pop(cmid, None)
            if not self.pending:
                self.idle.set()
            self._saw(m, ack=True)
        elif kind == "message":
            self._saw(f["message"])
        elif kind == "hello":
            self.sessions.update(s["session_id"] for s in f.get("sessions", []))
        elif kind == "assigned":
            self.sessions.add(f["session"]["session_id"])
            self.assigned.set()
        elif kind == "error":
            code = str(f.get("code"))
            self.fig.errors[code] += 1
            p = self.pending.get(f.get("ref") or "")
            if p is not None and code in RETRYABLE:
                backoff = min(0.05 * 2 ** min(p.tries, 6), self.backoff_max)
                wait = max(float(f.get("retry_after") or 0), self.rng.uniform(backoff / 2, backoff))
                p.retry_at = time.monotonic() + wait
            self.frames.append(f)
        elif kind not in ("pong", "resumed", "presence", "read", "typing", "queued",
                          "waiting"):
            self.frames.append(f)
