"""The message writer: group commit of chat-message appends.

Session actors hand appends to one writer thread and go on; the writer takes everything
pending, writes it in one pipeline (each append an atomic Lua script that checks
``seq`` and ``client_msg_id``), and only then releases the acks and deliveries, in order.
One round trip per batch instead of one per message (DESIGN.md, "Persistence").

Outcomes other than "stored" go back to the session actor as ``AppendOutcome``:
``dup``, ``conflict``, ``closed``, ``unavailable`` (nothing was sent: certainly not
stored) and ``unknown`` (sent, no reply: perhaps stored; the client resends with the same
``client_msg_id`` and the dedup record tells).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import NoScriptError

from kefu.actors.messages import AppendOutcome
from kefu.persistence.redis import REDIS_ERRORS, OutcomeUnknown, Store

if TYPE_CHECKING:
    from kefu.actors.handles import ActorHandle
    from kefu.actors.runtime import Outbox

log = logging.getLogger(__name__)
MAX_BATCH = 512


@dataclass
class AppendItem:
    """One chat message to append (or, with ``resend_only``, a resend to re-ack)."""

    sid: str
    seq: int
    msg: dict[str, Any]
    side: str
    sender: str
    recipient: str
    conn_id: int | None
    cmid: str | None
    handle: ActorHandle | None
    ts: float = 0.0
    response_seconds: float | None = None
    meta: list[str] = field(default_factory=list)
    resend_only: bool = False
    miss_code: str = "storage_unavailable"  # resend_only: error code if nothing was stored
    msg_json: bytes = b""
    route_seq: int = 0  # a kehu's message: its number on the loop (Hub.route)
    # set by the writer thread once the append is decided ("ok", "dup", "closed", ...);
    # the session reads it after a barrier (see Session._hand_back_closed)
    status: str = ""
    handed_back: bool = False  # a "closed" kehu message the session passed on already


def ack_frame(cmid: str | None, msg_json: bytes) -> bytes:
    return orjson.dumps({"type": "ack", "client_msg_id": cmid,
                         "message": orjson.Fragment(msg_json)})


def message_frame(msg_json: bytes) -> bytes:
    return orjson.dumps({"type": "message", "message": orjson.Fragment(msg_json)})


class Writer:
    """A thread that owns the append pipeline. ``submit`` is thread-safe."""

    def __init__(self, store: Store, outbox: Outbox, dedup_ttl: int) -> None:
        self.store = store
        self.keys = store.keys
        self.outbox = outbox
        self.dedup_ttl = dedup_ttl
        self.queue: queue.SimpleQueue[AppendItem | threading.Event | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="kefu-writer", daemon=True)
        self.batches = 0
        self.appended = 0

    def start(self) -> None:
        """Load the append script and start the thread (start-up, main thread)."""
        self.store.client.script_load(self.store.append.script)
        self.thread.start()

    def submit(self, item: AppendItem) -> None:
        """Queue an append. Thread-safe; never blocks."""
        self.queue.put(item)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending, then stop. Called from the main thread at shut-down."""
        self.queue.put(None)
        self.thread.join(timeout)

    def barrier(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted before this call has been written.

        Called by a session actor (re)loading its snapshot, so appends queued by a previous
        incarnation are in Redis before it reads ``seq``. Thread-safe; bounded."""
        if not self.thread.is_alive():
            return True
        marker = threading.Event()
        self.queue.put(marker)
        return marker.wait(timeout)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch: list[AppendItem] = []
            markers: list[threading.Event] = []
            stop = False
            nxt: AppendItem | threading.Event | None = first
            while True:
                if nxt is None:
                    stop = True
                    break
                if isinstance(nxt, threading.Event):
                    markers.append(nxt)
                    break  # a barrier ends the batch
                batch.append(nxt)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                try:
                    self._write(batch)
                except Exception:  # noqa: BLE001 - the writer must outlive any bug
                    log.exception("writer batch failed")
                    for item in batch:
                        self._outcome(item, "unavailable")
            for marker in markers:
                marker.set()
            if stop:
                return

    def _command(self, item: AppendItem) -> tuple[Any, ...]:
        """The Redis command for one item: the append script, or GET of a resend's
        stored ack."""
        k = self.keys
        dedup_key = k.dedup(item.sender, item.cmid or "-")
        if item.resend_only:
            return ("GET", dedup_key)
        item.msg_json = msg_json = orjson.dumps(item.msg)
        return ("EVALSHA", self.store.append.sha, 4, k.session(item.sid), k.stream(item.sid),
                dedup_key, k.message_index, item.seq, msg_json, item.msg["id"], item.side,
                item.ts, item.msg["content"][:200], self.dedup_ttl, item.sid,
                "1" if item.cmid else "0",
                "" if item.response_seconds is None else item.response_seconds, *item.meta)

    def _queue_commands(self, pipe: Any, item: AppendItem) -> None:
        """Add the item's command to a redis-py pipeline (the history benchmark's loader)."""
        pipe.execute_command(*self._command(item))

    def _write(self, batch: list[AppendItem]) -> None:
        pending = batch
        for _attempt in range(2):
            try:
                results = self.store.execute([self._command(item) for item in pending])
            except REDIS_ERRORS as exc:
                # sent but unanswered: each append may be stored (a resend will tell)
                status = "unknown" if isinstance(exc, OutcomeUnknown) else "unavailable"
                log.warning("writer: Redis %s: %s", status, exc)
                for item in pending:
                    if item.resend_only:
                        self._finish(item, exc)
                    else:
                        self._outcome(item, status)
                return
            retry: list[AppendItem] = []
            for item, result in zip(pending, results, strict=True):
                if isinstance(result, NoScriptError):
                    retry.append(item)
                else:
                    self._finish(item, result)
            if not retry:
                break
            self.store.client.script_load(self.store.append.script)
            pending = retry
        self.batches += 1

    def _finish(self, item: AppendItem, result: Any) -> None:
        if item.resend_only and (result is None or isinstance(result, Exception)):
            code = item.miss_code if result is None else "storage_unavailable"
            self.outbox.to_conn(item.conn_id, orjson.dumps(
                {"type": "error", "code": code, "message": code, "ref": item.cmid}))
            return
        if isinstance(result, Exception):
            log.warning("append failed: %s", result)
            self._outcome(item, "unavailable")
            return
        if item.resend_only:
            self.outbox.to_conn(item.conn_id, ack_frame(item.cmid, result.encode()))
            return
        status, detail = result[0], result[1]
        item.status = status
        if status == "ok":
            self.appended += 1
            msg_json = item.msg_json
            self.outbox.to_conn(item.conn_id, ack_frame(item.cmid, msg_json), item.sid,
                                item.seq)
            self.outbox.message((item.sender, item.recipient), item.sid, item.seq,
                                message_frame(msg_json), exclude_conn=item.conn_id)
        else:
            self._outcome(item, status, detail)

    def _outcome(self, item: AppendItem, status: str, detail: str = "") -> None:
        item.status = status
        if item.handle is not None:
            item.handle.tell(AppendOutcome(item=item, status=status, detail=detail))
