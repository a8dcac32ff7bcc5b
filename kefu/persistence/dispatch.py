"""The dispatcher's writes: queue entries, opening and closing sessions (one script each),
agents' figures, and reading its state back at start-up.

Blocking; called on the dispatcher's thread (and by the history benchmark's loader,
which opens and closes sessions the way the dispatcher does). Each write is atomic, and
the dispatcher changes its memory only after it returned — with ``KEFU_ACK_REPLICAS``,
after the replicas confirmed it, so that its frames leave after that too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from kefu import metrics
from kefu.domain import iso, now
from kefu.persistence.fencing import UNFENCED, Fence, Fenced
from kefu.persistence.redis import Store, confirm_quietly

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Opened:
    """What the open script did: the session's new generation, the kehu's waiting
    messages it moved into the session (their JSON, now with ``seq``) and, for a transfer,
    the old session's generation after its close."""

    generation: int
    moved: list[str]
    closed_generation: int = 0


@dataclass(frozen=True, slots=True)
class Refused:
    """A session script found an invariant would break and changed nothing: ``reason``
    (already_in_session, kefu_full, session_not_active), ``detail`` (e.g. the kehu's
    active session, the kefu's capacity). The dispatcher's memory was stale. ``fenced``:
    this node no longer holds the dispatcher's lease (cluster mode)."""

    reason: str
    detail: str = ""


Command = tuple[list[str], list[Any]]


def fenced(command: Command, fence: Fence) -> Command:
    """``command`` with the fence's lease key and token last (``fencing.py``)."""
    return [*command[0], fence.key], [*command[1], fence.token]


def _refused(result: list[Any]) -> Refused | None:
    if result[0] == "fenced":
        return Refused("fenced")
    if result[0] == "refused":
        return Refused(str(result[1]), str(result[2]) if len(result) > 2 else "")
    return None


def store_waiting_message(store: Store, kehu_id: str, cmid: str | None, content: str,
                          content_type: str, url: str | None, dedup_ttl: int,
                          fence: Fence = UNFENCED) -> bytes:
    """Keep a message of a kehu that waits for an agent (moved into its session on
    assignment) → the stored message's JSON (the earlier one's, for a resend). Raises
    ``OutcomeUnknown`` when the script was sent but its reply lost, ``Fenced`` when this
    node lost the dispatcher's lease."""
    k = store.keys
    stored = {"id": f"msg_{uuid.uuid4().hex}", "from": kehu_id, "to": None,
              "content": content, "content_type": content_type, "timestamp": iso(now()),
              "url": url, "session_id": None, "seq": None, "client_msg_id": cmid}
    raw = orjson.dumps(stored)
    status, existing = store.call_script(
        store.wait_append,
        keys=[k.waiting_messages(kehu_id), k.dedup(kehu_id, cmid or "-"), k.message_index,
              fence.key],
        args=[raw, stored["id"], dedup_ttl, "1" if cmid else "0", kehu_id, fence.token])
    if status == "fenced":
        raise Fenced("the dispatcher's lease is not this node's")
    store.confirm()  # the kehu's ack waits for the replicas, as a chat message's does
    if status == "dup":
        return existing.encode()
    metrics.MESSAGES_STORED.inc()
    return raw


def first_waiting_messages(store: Store, kehu_ids: list[str]) -> dict[str, str]:
    """Each waiting kehu's first kept message's content (the consoles' preview), read in
    one round trip at start."""
    pipe = store.client.pipeline(transaction=False)
    for kehu_id in kehu_ids:
        pipe.lindex(store.keys.waiting_messages(kehu_id), 0)
    return {kehu_id: orjson.loads(raw).get("content") or ""
            for kehu_id, raw in zip(kehu_ids, pipe.execute(), strict=True) if raw}


def queue_entry_json(name: str, priority: str, since: float, note: str | None,
                     front: bool, team: str | None = None, previous: str = "") -> bytes:
    """The queue hash's value for one waiting kehu (``team``: the team it waits for;
    ``previous``: its session before a requeue or a transfer to a team)."""
    entry: dict[str, object] = {"name": name, "priority": priority, "since": since,
                                "note": note, "front": front}
    if team:
        entry["team"] = team
    if previous:
        entry["previous"] = previous
    return orjson.dumps(entry)


def put_queue_entry(store: Store, kehu_id: str, entry_json: bytes,
                    fence: Fence = UNFENCED) -> None:
    """Raises ``Fenced`` when this node lost the dispatcher's lease."""
    result = store.call_script(store.queue_put, keys=[store.keys.queue, fence.key],
                               args=[kehu_id, entry_json, fence.token])
    if result[0] == "fenced":
        raise Fenced("the dispatcher's lease is not this node's")
    confirm_quietly(store, "queue entry")


def put_offer(store: Store, kehu_id: str, offer_json: bytes,
              fence: Fence = UNFENCED) -> Refused | None:
    """Record the offer of a waiting kehu to one agent → None, or the refusal
    (``not_waiting``, ``already_in_session``, ``offered``: another offer is out)."""
    k = store.keys
    result = store.call_script(store.offer_put, keys=[k.offers, k.queue, k.assignments,
                                                     fence.key],
                               args=[kehu_id, offer_json, fence.token])
    if (refused := _refused(result)) is not None:
        return refused
    confirm_quietly(store, "offer")
    return None


def drop_offer(store: Store, kehu_id: str, offer_id: str, fence: Fence = UNFENCED) -> bool:
    """Take back the kehu's offer if it is still ``offer_id`` → whether it was. Raises
    ``Fenced`` when this node lost the dispatcher's lease."""
    result = store.call_script(store.offer_drop, keys=[store.keys.offers, fence.key],
                               args=[kehu_id, offer_id, fence.token])
    if result[0] == "fenced":
        raise Fenced("the dispatcher's lease is not this node's")
    return bool(int(result[1]))


def drop_queue_entry(store: Store, kehu_id: str, fence: Fence = UNFENCED,
                     reason: str = "left_message") -> bool:
    """Take a kehu out of the queue (and any offer of it) → whether it was waiting;
    ``reason`` goes with the ``queue.abandoned`` event. Raises ``Fenced`` when this node
    lost the dispatcher's lease."""
    k = store.keys
    result = store.call_script(store.queue_drop, keys=[k.queue, k.offers, fence.key],
                               args=[kehu_id, fence.token, reason])
    if result[0] == "fenced":
        raise Fenced("the dispatcher's lease is not this node's")
    confirm_quietly(store, "queue drop")
    return bool(int(result[1]))


def open_session_command(store: Store, sid: str, kehu_id: str, kefu_id: str, at: float,
                         transferred_from: str, kehu_name: str, kefu_name: str,
                         dedup_ttl: int, force: bool = False,
                         routing_json: bytes = b"", offer_id: str = "") -> Command:
    """KEYS and ARGV of the open script (open or reopen ``sid``, move the waiting
    messages, take the kehu off the queue, record the assignment); ``force``: an admin's
    assignment past the kefu's capacity; ``routing_json``: why this agent (kept in the
    session's hash as ``routing``); ``offer_id``: the offer the agent accepted (refused
    ``offer_gone`` unless it is still out, to that agent)."""
    k = store.keys
    event = orjson.dumps({"event": "opened", "ts": at, "kefu_id": kefu_id,
                          "transferred_from": transferred_from or None})
    keys = [k.session(sid), k.stream(sid), k.waiting_messages(kehu_id), k.queue,
            k.assignments, k.sessions, k.user_sessions(kehu_id), k.user_sessions(kefu_id),
            k.message_index, k.events(sid), k.active_sessions(kehu_id),
            k.active_sessions(kefu_id), k.user(kefu_id), k.offers]
    args = [sid, kehu_id, kefu_id, at, transferred_from, f"{k.prefix}dedup:", dedup_ttl,
            event, kehu_name, kefu_name, "1" if force else "0", routing_json, offer_id]
    return keys, args


def close_session_command(store: Store, sid: str, status: str, at: float, reason: str,
                          requeue_json: bytes = b"", transferred_to: str = "") -> Command:
    """KEYS and ARGV of the close script (end or transfer ``sid``; ``requeue_json`` puts
    its kehu back in the queue)."""
    k = store.keys
    kehu_id, kefu_id = sid.split(":")
    event = orjson.dumps({"event": status, "ts": at, "reason": reason,
                          "transferred_to": transferred_to or None})
    return ([k.session(sid), k.assignments, k.events(sid), k.queue,
             k.active_sessions(kehu_id), k.active_sessions(kefu_id)],
            [status, at, kehu_id, event, requeue_json, reason, transferred_to])


def open_session(store: Store, opening: Command, fence: Fence = UNFENCED) -> Opened | Refused:
    """Run the open script: the session is open, or nothing changed (a refusal)."""
    keys, args = fenced(opening, fence)
    result = store.assign(keys=keys, args=args)
    return _refused(result) or _confirmed(store, "assignment", Opened(
        generation=int(result[1]), moved=list(result[2:])))


def transfer_session(store: Store, closing: Command, opening: Command,
                     fence: Fence = UNFENCED) -> Opened | Refused:
    """Close the old session and open the new one in one script, or neither."""
    keys, args = fenced((closing[0] + opening[0], closing[1] + opening[1]), fence)
    result = store.transfer(keys=keys, args=args)
    return _refused(result) or _confirmed(store, "transfer", Opened(
        generation=int(result[1]), moved=list(result[3:]), closed_generation=int(result[2])))


def close_session(store: Store, closing: Command, fence: Fence = UNFENCED) -> int | Refused:
    """Run the close script → the session's new generation, or a refusal."""
    keys, args = fenced(closing, fence)
    result = store.close_session(keys=keys, args=args)
    return _refused(result) or _confirmed(store, "close", int(result[1]))


def _confirmed(store: Store, what: str, outcome: T) -> T:
    """``outcome`` once the replicas confirmed the write (KEFU_ACK_REPLICAS), so that its
    frames leave after it; see ``confirm_quietly`` for a shortfall."""
    confirm_quietly(store, what)
    return outcome


def session_meta(store: Store, sid: str) -> dict[str, str]:
    return store.client.hgetall(store.keys.session(sid))


FIGURES = ("rt", "rc", "st", "sc")  # response seconds and count, rating sum and count


def forget_figures(store: Store, kefu_id: str) -> None:
    """Drop a deleted kefu's figures (kept by the append and rate scripts)."""
    store.client.hdel(store.keys.agent_figures, kefu_id,
                      *(f"{kefu_id}|{name}" for name in FIGURES))


def figures_of(raw: dict[str, str]) -> dict[str, dict[str, float]]:
    """The figures hash → kefu id → {rt, rc, st, sc}. Fields ``<kefu>|<name>`` are the
    scripts' counters; a field ``<kefu>`` is an older version's JSON totals (added in)."""
    out: dict[str, dict[str, float]] = {}
    for field_name, value in raw.items():
        kefu_id, _, name = field_name.rpartition("|")
        if kefu_id and name in FIGURES:
            totals = out.setdefault(kefu_id, dict.fromkeys(FIGURES, 0.0))
            totals[name] += float(value)
        elif not kefu_id:
            legacy = orjson.loads(value)
            totals = out.setdefault(name, dict.fromkeys(FIGURES, 0.0))
            for key in FIGURES:
                totals[key] += float(legacy.get(key, 0))
    return out


@dataclass(frozen=True, slots=True)
class DispatchSnapshot:
    """Everything the dispatcher reads at start: the queue hash, the assignments hash,
    the agents' figures (kefu id → totals) and the offers out (kehu id → offer JSON)."""

    queue: dict[str, str]
    assignments: dict[str, str]
    figures: dict[str, dict[str, float]]
    offers: dict[str, str]


def load_snapshot(store: Store) -> DispatchSnapshot:
    """One round trip for the dispatcher's state."""
    k = store.keys
    pipe = store.client.pipeline(transaction=False)
    pipe.hgetall(k.queue)
    pipe.hgetall(k.assignments)
    pipe.hgetall(k.agent_figures)
    pipe.hgetall(k.offers)
    queue, assignments, figures, offers = pipe.execute()
    return DispatchSnapshot(queue, assignments, figures_of(figures), offers)
