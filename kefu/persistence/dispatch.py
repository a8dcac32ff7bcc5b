"""The dispatcher's writes: queue entries, opening and closing sessions (one script each),
agents' figures, and reading its state back at start-up.

Blocking; called on the dispatcher's thread (and by the history benchmark's loader,
which opens and closes sessions the way the dispatcher does). Each write is atomic, and
the dispatcher changes its memory only after it returned.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence.redis import Store


@dataclass(frozen=True, slots=True)
class Opened:
    """What the open script did: the session's new generation, the kehu's waiting
    messages it moved into the session (their JSON, now with ``seq``) and, for a transfer,
    the old session's generation after its close."""

    generation: int
    moved: list[str]
    closed_generation: int = 0


def store_waiting_message(store: Store, kehu_id: str, cmid: str | None, content: str,
                          content_type: str, url: str | None, dedup_ttl: int) -> bytes:
    """Keep a message of a kehu that waits for an agent (moved into its session on
    assignment) → the stored message's JSON (the earlier one's, for a resend). Raises
    ``OutcomeUnknown`` when the script was sent but its reply lost."""
    k = store.keys
    stored = {"id": f"msg_{uuid.uuid4().hex}", "from": kehu_id, "to": None,
              "content": content, "content_type": content_type, "timestamp": iso(now()),
              "url": url, "session_id": None, "seq": None, "client_msg_id": cmid}
    raw = orjson.dumps(stored)
    status, existing = store.call_script(
        store.wait_append,
        keys=[k.waiting_messages(kehu_id), k.dedup(kehu_id, cmid or "-"), k.message_index],
        args=[raw, stored["id"], dedup_ttl, "1" if cmid else "0", kehu_id])
    return existing.encode() if status == "dup" else raw


def queue_entry_json(name: str, priority: str, since: float, note: str | None,
                     front: bool) -> bytes:
    """The queue hash's value for one waiting kehu."""
    return orjson.dumps({"name": name, "priority": priority, "since": since, "note": note,
                         "front": front})


def put_queue_entry(store: Store, kehu_id: str, entry_json: bytes) -> None:
    store.client.hset(store.keys.queue, kehu_id, entry_json)


def open_session_command(store: Store, sid: str, kehu_id: str, kefu_id: str, at: float,
                         transferred_from: str, kehu_name: str, kefu_name: str,
                         dedup_ttl: int) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``ASSIGN_LUA`` (open or reopen ``sid``, move the waiting messages,
    take the kehu off the queue, record the assignment)."""
    k = store.keys
    event = orjson.dumps({"event": "opened", "ts": at, "kefu_id": kefu_id,
                          "transferred_from": transferred_from or None})
    keys = [k.session(sid), k.stream(sid), k.waiting_messages(kehu_id), k.queue,
            k.assignments, k.sessions, k.user_sessions(kehu_id), k.user_sessions(kefu_id),
            k.message_index, k.events(sid), k.active_sessions(kehu_id),
            k.active_sessions(kefu_id)]
    args = [sid, kehu_id, kefu_id, at, transferred_from, f"{k.prefix}dedup:", dedup_ttl,
            event, kehu_name, kefu_name]
    return keys, args


def close_session_command(store: Store, sid: str, status: str, at: float, reason: str,
                          requeue_json: bytes = b"", transferred_to: str = ""
                          ) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``CLOSE_LUA`` (end or transfer ``sid``; ``requeue_json`` puts its
    kehu back in the queue)."""
    k = store.keys
    kehu_id, kefu_id = sid.split(":")
    event = orjson.dumps({"event": status, "ts": at, "reason": reason,
                          "transferred_to": transferred_to or None})
    return ([k.session(sid), k.assignments, k.events(sid), k.queue,
             k.active_sessions(kehu_id), k.active_sessions(kefu_id)],
            [status, at, kehu_id, event, requeue_json, reason, transferred_to])


def open_session(store: Store, opening: tuple[list[str], list[Any]],
                 closing: tuple[list[str], list[Any]] | None = None) -> Opened:
    """Run the open script — after the close script of a transfer's old session, in one
    MULTI — and return what it did."""
    pipe = store.client.pipeline(transaction=True)
    if closing is not None:
        store.close_session(keys=closing[0], args=closing[1], client=pipe)
    store.assign(keys=opening[0], args=opening[1], client=pipe)
    results = pipe.execute()
    opened = results[-1]
    return Opened(generation=int(opened[0]), moved=list(opened[1:]),
                  closed_generation=int(results[0]) if closing is not None else 0)


def close_session(store: Store, closing: tuple[list[str], list[Any]]) -> int:
    """Run the close script → the session's new generation."""
    return int(store.close_session(keys=closing[0], args=closing[1]))


def session_meta(store: Store, sid: str) -> dict[str, str]:
    return store.client.hgetall(store.keys.session(sid))


def save_figures(store: Store, kefu_id: str, resp_total: float, resp_count: int,
                 sat_total: float, sat_count: int) -> None:
    """An agent's response-time and rating totals (the dispatcher's, for efficiency)."""
    store.client.hset(store.keys.agent_figures, kefu_id, orjson.dumps(
        {"rt": resp_total, "rc": resp_count, "st": sat_total, "sc": sat_count}))


def forget_figures(store: Store, kefu_id: str) -> None:
    store.client.hdel(store.keys.agent_figures, kefu_id)


@dataclass(frozen=True, slots=True)
class DispatchSnapshot:
    """Everything the dispatcher reads at start: the queue hash, the assignments hash
    and the agents' figures (kefu id → totals)."""

    queue: dict[str, str]
    assignments: dict[str, str]
    figures: dict[str, dict[str, float]]


def load_snapshot(store: Store) -> DispatchSnapshot:
    """One round trip for the dispatcher's state."""
    k = store.keys
    pipe = store.client.pipeline(transaction=False)
    pipe.hgetall(k.queue)
    pipe.hgetall(k.assignments)
    pipe.hgetall(k.agent_figures)
    queue, assignments, figures = pipe.execute()
    return DispatchSnapshot(queue, assignments,
                            {kid: orjson.loads(raw) for kid, raw in figures.items()})
