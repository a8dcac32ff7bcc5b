"""The append log: group commit of chat-message appends to Redis.

It knows Redis only. A session hands it an immutable :class:`Append` and a ``done``
callback and goes on; one thread takes everything pending, writes it in one round trip
(each append an atomic Lua script that checks ``seq``, the session's status and the
``client_msg_id`` dedup record; ``Store.execute``), and calls each ``done`` with an
immutable :class:`Appended`, in submission order. One round trip per batch instead of one
per message (DESIGN.md, "Persistence"). What the outcome means for sockets and actors —
acks, deliveries, hand-backs — is decided by the caller's ``done`` (``actors/delivery.py``);
nothing here is shared with another thread after it is submitted.

Statuses: ``ok``; ``dup`` (that ``client_msg_id`` was stored already: ``detail`` is the
stored message's JSON); ``conflict`` (``seq`` does not follow the stored one: ``detail``
is the stored seq); ``closed`` (the session is not active); ``missing`` (a resend-only
lookup found nothing stored); ``unavailable`` (nothing was sent: certainly not stored);
``unknown`` (sent, and no reply came: perhaps stored; or, with ``KEFU_ACK_REPLICAS``,
stored on the primary but not confirmed by enough replicas in time: a resend with the same
``client_msg_id`` tells); ``fenced`` (cluster mode: the session's shard is no longer this
node's — nothing stored; its new owner will take the message).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.exceptions import NoScriptError

from kefu import metrics
from kefu.persistence.fencing import UNFENCED, Fence
from kefu.persistence.redis import REDIS_ERRORS, OutcomeUnknown, Store

log = logging.getLogger(__name__)
MAX_BATCH = 512


class AppendStatus(StrEnum):
    OK = "ok"
    DUP = "dup"
    CONFLICT = "conflict"
    CLOSED = "closed"
    MISSING = "missing"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"
    FENCED = "fenced"


@dataclass(frozen=True, slots=True)
class Append:
    """One chat message to store in session ``sid`` at ``seq`` (``msg_json``: the stored
    message, already encoded). ``resend_only``: no write, just the stored copy of
    ``sender``'s ``cmid`` (a resend the session recognised). ``fence``: the session's
    shard lease and token (cluster mode; ``fencing.py``)."""

    sid: str
    seq: int
    msg_id: str
    msg_json: bytes
    side: str  # "kehu" | "kefu": whose counters the message bumps
    sender: str
    cmid: str | None
    ts: float
    preview: str = ""  # the session's last_message (its first 200 characters)
    response_seconds: float | None = None  # this message answers a wait of that long
    meta: tuple[str | int | float, ...] = ()  # pairs of session-hash fields to set with it
    resend_only: bool = False
    fence: Fence = UNFENCED


@dataclass(frozen=True, slots=True)
class Appended:
    """The outcome of one :class:`Append` (see the module docstring for ``detail``)."""

    append: Append
    status: AppendStatus
    detail: str = ""


Done = Callable[[Appended], None]
_Item = tuple[Append, Done] | Callable[[], None] | threading.Event | None


class AppendLog:
    """The thread that owns the append pipeline. ``submit`` and ``settle`` are
    thread-safe and never block."""

    def __init__(self, store: Store, dedup_ttl: int) -> None:
        self.store = store
        self.keys = store.keys
        self.dedup_ttl = dedup_ttl
        self.queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="kefu-appends", daemon=True)
        self.batches = 0
        self.appended = 0

    def start(self) -> None:
        """Load the append script and start the thread. Called once, at start-up."""
        self.store.client.script_load(self.store.append.script)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending, then stop. Called at shut-down."""
        self.queue.put(None)
        self.thread.join(timeout)

    def submit(self, append: Append, done: Done) -> None:
        """Queue ``append``; ``done`` is called with its outcome on the log's thread.

        Args:
            append: what to store.
            done: called once, on the append log's thread, after the write (in the order
                the appends were submitted); it must not block.
        """
        self.queue.put((append, done))

    def settle(self, then: Callable[[], None]) -> None:
        """Call ``then`` (on the log's thread) once every append submitted before has
        been decided and its ``done`` called — an asynchronous barrier."""
        self.queue.put(then)

    def barrier(self, timeout: float = 5.0) -> bool:
        """Block until everything submitted before this call is decided (bounded). For a
        new session incarnation that must read ``seq`` after an old one's appends.
        Thread-safe; False on timeout."""
        if not self.thread.is_alive():
            return True
        marker = threading.Event()
        self.queue.put(marker)
        return marker.wait(timeout)

    def command(self, append: Append) -> tuple[Any, ...]:
        """The Redis command for one append: the script, or the GET of a resend's stored
        copy. (Also the history benchmark's loader: the same script, indexes and counters.)"""
        k = self.keys
        dedup_key = k.dedup(append.sender, append.cmid or "-")
        if append.resend_only:
            return ("GET", dedup_key)
        return ("EVALSHA", self.store.append.sha, 6, k.session(append.sid), k.stream(append.sid),
                dedup_key, k.message_index, k.agent_figures, append.fence.key, append.seq,
                append.msg_json, append.msg_id,
                append.side, append.ts, append.preview, self.dedup_ttl, append.sid,
                "1" if append.cmid else "0",
                "" if append.response_seconds is None else append.response_seconds,
                append.fence.token, *append.meta)

    # --- the log's thread -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch: list[tuple[Append, Done]] = []
            after: list[Callable[[], None] | threading.Event] = []
            stop = False
            item = self.queue.get()
            while True:
                if item is None:
                    stop = True
                    break
                if isinstance(item, tuple):
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                else:
                    after.append(item)  # a barrier or a settle ends the batch
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            for marker in after:
                if isinstance(marker, threading.Event):
                    marker.set()
                else:
                    self._call(marker)
            if stop:
                return

    def _write(self, batch: list[tuple[Append, Done]]) -> None:
        pending, appended = batch, self.appended
        confirm = self.store.confirm_commands()  # KEFU_ACK_REPLICAS: end with a WAIT
        for _attempt in range(2):
            try:
                replies = self.store.execute([self.command(a) for a, _ in pending] + confirm)
                results = replies[:len(pending)]
                replicated = not confirm or self.store.confirmed(replies[-1])
            except REDIS_ERRORS as exc:
                # sent but unanswered: each append may be stored (a resend will tell)
                status = (AppendStatus.UNKNOWN if isinstance(exc, OutcomeUnknown)
                          else AppendStatus.UNAVAILABLE)
                log.warning("append log: Redis %s: %s", status, exc)
                for append, done in pending:
                    self._call(done, Appended(append, status, str(exc)))
                return
            except Exception:  # the log's thread must outlive any bug
                log.exception("append batch failed")
                for append, done in pending:
                    self._call(done, Appended(append, AppendStatus.UNAVAILABLE, "internal"))
                return
            retry: list[tuple[Append, Done]] = []
            for (append, done), result in zip(pending, results, strict=True):
                if isinstance(result, NoScriptError):
                    retry.append((append, done))  # Redis restarted: its script cache is empty
                else:
                    self._call(done, self._outcome(append, result, replicated))
            if not retry:
                break
            self.store.client.script_load(self.store.append.script)
            pending = retry
        self.batches += 1
        metrics.WRITER_BATCH.observe(len(batch))  # once a batch: no lock per message
        metrics.MESSAGES_STORED.inc(self.appended - appended)

    def _outcome(self, append: Append, result: Any, replicated: bool = True) -> Appended:
        if isinstance(result, Exception):
            log.warning("append failed: %s", result)
            return Appended(append, AppendStatus.UNAVAILABLE, str(result))
        if append.resend_only:
            if result is None:
                return Appended(append, AppendStatus.MISSING)
            status, detail = AppendStatus.DUP, result
        else:
            status, detail = AppendStatus(result[0]), result[1]
        if not replicated and status in (AppendStatus.OK, AppendStatus.DUP):
            # on the primary only: no ack, no delivery; a resend tells once it is replicated
            return Appended(append, AppendStatus.UNKNOWN, "not confirmed by the replicas")
        if status is AppendStatus.OK:
            self.appended += 1
        return Appended(append, status, detail)

    @staticmethod
    def _call(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a caller's bug must not stop the log
            log.exception("append callback failed")
