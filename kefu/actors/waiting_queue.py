"""The waiting queue: a part of the dispatcher (its thread only).

Who waits, in which order (``routing.queue_order``: requeued first, then priority as a
head start of ``KEFU_PRIORITY_HEAD_START_SECONDS``, then time), which kehu are online, and which ``queued`` frame each was last sent, so a
position or estimate is pushed only when it changes. :meth:`WaitingQueue.from_snapshot`
is pure. Redis keeps the same entries: :meth:`WaitingQueue.put` writes before it changes
memory; the open script removes an entry when its kehu is assigned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kefu import protocol
from kefu.actors.routing import QueueEntry, estimate_wait, queue_order
from kefu.domain import Priority
from kefu.persistence import dispatch
from kefu.persistence.fencing import UNFENCED, Fence
from kefu.persistence.redis import Store

PUSHED = 50  # customers listed in a ``waiting`` frame (the total counts them all)
PREVIEW_CHARS = 100


@dataclass
class WaitingQueue:
    entries: dict[str, QueueEntry] = field(default_factory=dict)
    online: set[str] = field(default_factory=set)  # kehu with a live socket (queued or not)
    sent: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # kehu → (pos, estimate)
    dirty: bool = True  # positions may have changed since they were last pushed
    head_start: float = math.inf  # seconds of priority (KEFU_PRIORITY_HEAD_START_SECONDS)
    version: int = 0  # bumped at every change (the agents' pushed list follows it)
    offline_since: dict[str, float] = field(default_factory=dict)  # waiting, page gone

    @classmethod
    def from_snapshot(cls, raw: dict[str, str], online: set[str],
                      head_start: float = math.inf) -> WaitingQueue:
        """The queue hash (kehu id → entry JSON) and the kehu online → the queue."""
        entries = {}
        for kehu_id, value in raw.items():
            data = orjson.loads(value)
            entries[kehu_id] = QueueEntry(
                kehu_id=kehu_id, kehu_name=data.get("name", kehu_id),
                priority=Priority(data.get("priority", "normal")),
                waiting_since=float(data.get("since", 0)), note=data.get("note"),
                front=bool(data.get("front")), team=data.get("team") or None,
                previous=data.get("previous") or "")
        return cls(entries=entries, online=set(online), head_start=head_start)

    def __contains__(self, kehu_id: object) -> bool:
        return kehu_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def ordered(self) -> list[QueueEntry]:
        return queue_order(list(self.entries.values()), self.head_start)

    def head(self) -> QueueEntry | None:
        return min(self.entries.values(), key=lambda e: e.sort_key(self.head_start),
                   default=None)

    def put(self, store: Store, entry: QueueEntry, fence: Fence = UNFENCED) -> QueueEntry:
        """Add ``entry`` (or update the kehu's: it keeps its place and its front flag)
        in Redis, then here. Raises a Redis error with nothing changed."""
        old = self.entries.get(entry.kehu_id)
        if old is not None:
            entry = QueueEntry(kehu_id=entry.kehu_id, kehu_name=entry.kehu_name,
                               priority=entry.priority, waiting_since=old.waiting_since,
                               note=entry.note or old.note, front=old.front or entry.front,
                               team=entry.team or old.team, previous=old.previous or entry.previous,
                               preview=old.preview)
        dispatch.put_queue_entry(store, entry.kehu_id, self.entry_json(entry), fence)
        self.entries[entry.kehu_id] = entry
        self.sent.pop(entry.kehu_id, None)
        self.dirty = True
        self.version += 1
        return entry

    def requeued(self, entry: QueueEntry) -> None:
        """``entry`` was queued in Redis by a close script: the same here."""
        self.entries[entry.kehu_id] = entry
        self.sent.pop(entry.kehu_id, None)
        self.dirty = True
        self.version += 1

    def wrote(self, kehu_id: str, content: str) -> None:
        """A waiting kehu's message was kept: the first one is its preview."""
        entry = self.entries.get(kehu_id)
        if entry is not None and entry.preview is None:
            entry.preview = content[:PREVIEW_CHARS]
            self.version += 1

    def taken(self, kehu_id: str) -> None:
        """The kehu left the queue (assigned: the script removed it from Redis)."""
        self.entries.pop(kehu_id, None)
        self.sent.pop(kehu_id, None)
        self.dirty = True
        self.version += 1

    def waiting_view(self, at: float, ordered: list[QueueEntry] | None = None
                     ) -> dict[str, Any]:
        """The seed's waiting list (2.5), in queue order (``ordered``: already sorted)."""
        waiting = [
            {"customer_id": e.kehu_id, "customer_name": e.kehu_name,
             "status": "Online" if e.kehu_id in self.online else "Offline",
             "waiting_since": int(e.waiting_since),
             "waiting_duration_seconds": int(at - e.waiting_since),
             "priority": e.priority.value, "note": e.note, "position": i + 1,
             "team": e.team, "preview": e.preview}
            for i, e in enumerate(ordered if ordered is not None else self.ordered())
        ]
        return {"waiting_customers": waiting, "total": len(waiting)}

    @staticmethod
    def entry_json(entry: QueueEntry) -> bytes:
        return dispatch.queue_entry_json(entry.kehu_name, entry.priority.value,
                                         entry.waiting_since, entry.note, entry.front,
                                         entry.team, entry.previous)

    def positions(self, seats: Callable[[str | None], int], avg_session_seconds: float,
                  only: str | None = None) -> list[tuple[str, bytes]]:
        """The ``queued`` frames to push: (kehu id, frame) for every kehu whose position
        or estimate changed (``only``: that kehu, whatever it was last sent). A
        position counts the customers ahead in the same team's queue; ``seats(team)``:
        the online seats that serve it, for the estimate."""
        if not self.dirty and only is None:
            return []
        if only is not None:
            self.sent.pop(only, None)
        out = []
        ahead: dict[str | None, int] = {}
        for entry in self.ordered():
            pos = ahead[entry.team] = ahead.get(entry.team, 0) + 1
            if only is not None and entry.kehu_id != only:
                continue
            room = seats(entry.team)  # no online seat: no estimate (none to promise)
            estimate = estimate_wait(pos, room, avg_session_seconds) if room else None
            if self.sent.get(entry.kehu_id) == (pos, estimate):
                continue
            self.sent[entry.kehu_id] = (pos, estimate)
            out.append((entry.kehu_id, protocol.queued(
                pos, entry.priority.value, estimate, int(entry.waiting_since), entry.team)))
        if only is None:
            self.dirty = False
        return out
