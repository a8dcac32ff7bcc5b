"""The actors' mailboxes across nodes: one Redis stream per shard (``kefu:inbox:{s}``,
consumer group ``own``), written by the :class:`Courier` and read by the
:class:`InboxReader` of whichever node holds the shard's lease.

A sender never needs to know who owns a shard: it appends to the shard's stream, and the
mailbox moves with the lease. An entry is acknowledged (``XACK``) only once its message was
handled — a session's ``PostMessage`` only once its append is decided — so a node that dies
with work in hand loses nothing: the new owner claims every pending entry
(``XAUTOCLAIM``) before it reads new ones, and every handler is idempotent (dedup records,
script preconditions, monotonic marks).

The Courier is one thread that sends, in order, everything other threads queue — tells,
acks, publications, presence — a batch per round trip (``Store.execute``), like the append
log. It retries a failed batch (Redis away) for ``RETRY_SECONDS`` before it gives it up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import ResponseError

from kefu.persistence.redis import REDIS_ERRORS, Store

log = logging.getLogger(__name__)
GROUP = "own"
MAX_BATCH = 512
RETRY_SECONDS = 10.0
TRIM_EVERY = 15.0  # seconds between trims of the owned streams (below the group's floor)

Entry = tuple[str, str, dict[str, str]]  # (stream, entry id, fields)


class Courier:
    """``send`` is thread-safe and never blocks; the thread keeps the order."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queue: queue.SimpleQueue[tuple[Any, ...] | threading.Event | None] = \
            queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="kefu-courier", daemon=True)
        self.sent = 0
        self.dropped = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(5)

    def send(self, *command: Any) -> None:
        """Queue one Redis command (``XADD``, ``XACK``, ``PUBLISH``, …)."""
        self.queue.put(command)

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued before has been sent (a drain). Thread-safe."""
        marker = threading.Event()
        self.queue.put(marker)
        return marker.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            batch: list[tuple[Any, ...]] = []
            markers: list[threading.Event] = []
            stop = False
            while True:
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    batch.append(item)
                if stop or len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._send(batch)
            for m in markers:
                m.set()
            if stop:
                return

    def _send(self, batch: list[tuple[Any, ...]]) -> None:
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                for result in self.store.execute(batch):
                    if isinstance(result, Exception):
                        log.warning("courier: %s", result)
                self.sent += len(batch)
                return
            except REDIS_ERRORS as exc:
                if time.monotonic() > deadline:
                    self.dropped += len(batch)
                    log.error("courier: gave up %d commands: %s", len(batch), exc)
                    return
                time.sleep(0.2)  # Redis away: retry the same batch, in order


class InboxReader:
    """Reads the inboxes of the shards this node holds; ``handle`` gets each entry on the
    reader's thread (it only tells a local actor: never blocks)."""

    def __init__(self, store: Store, node: str, owned: Callable[[], list[str]],
                 handle: Callable[[Entry], None]) -> None:
        self.store, self.keys, self.node = store, store.keys, node
        self.owned, self.handle = owned, handle
        self.client = redis.Redis(connection_pool=store.client.connection_pool,
                                  decode_responses=True)
        self.ready: set[str] = set()  # shards whose pending entries were claimed
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kefu-inbox", daemon=True)
        self.handled = 0
        self.last_trim = 0.0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def forget(self, shard: str) -> None:
        """The shard was lost: claim again if it comes back."""
        self.ready.discard(shard)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._round()
            except REDIS_ERRORS as exc:
                log.warning("inbox: %s", exc)
                self.stopping.wait(0.5)
            except Exception:  # the reader must outlive a bug
                log.exception("inbox round failed")
                self.stopping.wait(0.5)

    def _round(self) -> None:
        shards = self.owned()
        if not shards:
            self.stopping.wait(0.2)
            return
        for shard in shards:
            if shard not in self.ready:
                self._take_over(shard)
                self.ready.add(shard)
        streams = {self.keys.inbox(s): ">" for s in shards}
        replies = self.client.xreadgroup(GROUP, self.node, streams, count=MAX_BATCH,
                                         block=200)
        for stream, entries in replies or []:
            for entry_id, fields in entries:
                self._deliver((stream, entry_id, fields))
        if time.monotonic() - self.last_trim > TRIM_EVERY:
            self.last_trim = time.monotonic()
            self._trim(shards)

    def _take_over(self, shard: str) -> None:
        """Make sure the group exists, then claim every entry still pending (delivered to
        a node that lost the shard, or to us before a restart) and handle it first."""
        stream = self.keys.inbox(shard)
        try:
            self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        cursor = "0-0"
        while True:
            cursor, claimed, *_ = self.client.xautoclaim(stream, GROUP, self.node, 0,
                                                         start_id=cursor, count=MAX_BATCH)
            for entry_id, fields in claimed:
                if fields:  # a deleted entry comes back empty
                    self._deliver((stream, entry_id, fields))
            if cursor == "0-0":
                return

    def _deliver(self, entry: Entry) -> None:
        self.handled += 1
        self.handle(entry)

    def _trim(self, shards: list[str]) -> None:
        """Drop entries every consumer has acknowledged (below the oldest pending one):
        two pipelined round trips for all the shards, so the reader barely pauses."""
        streams = [self.keys.inbox(s) for s in shards]
        pipe = self.client.pipeline(transaction=False)
        for stream in streams:
            pipe.xpending(stream, GROUP)
            pipe.xinfo_groups(stream)
        replies = pipe.execute(raise_on_error=False)
        trim = self.client.pipeline(transaction=False)
        for i, stream in enumerate(streams):
            pending, groups = replies[2 * i], replies[2 * i + 1]
            if isinstance(pending, Exception) or isinstance(groups, Exception):
                continue  # no stream or group yet
            floor = pending["min"] if pending and pending.get("pending") else None
            if floor is None:
                last = next((g["last-delivered-id"] for g in groups if g["name"] == GROUP), None)
                if last:  # everything delivered was acknowledged: keep only what follows
                    ms, seq = (int(x) for x in last.split("-"))
                    floor = f"{ms}-{seq + 1}"
            if floor:
                trim.xtrim(stream, minid=floor, approximate=True)
        trim.execute(raise_on_error=False)


def lag(client: redis.Redis, keys: Any, shards: list[str]) -> dict[str, int]:
    """shard → entries not yet acknowledged (pending, or not yet read)."""
    out: dict[str, int] = {}
    for shard in shards:
        stream = keys.inbox(shard)
        try:
            groups = client.xinfo_groups(stream)
        except ResponseError:
            continue
        for g in groups:
            if g["name"] == GROUP:
                out[shard] = int(g.get("pending") or 0) + int(g.get("lag") or 0)
    return out
