"""The outbox stream and the retry set, as the delivery worker uses them. Blocking;
called from the executor (``bridge.run_io``).

Events enter the stream inside the scripts that make the changes (``events.py``). Every
node reads it through one consumer group (``XREADGROUP``): an event goes to one node;
one that a node read but did not settle (it died, or stalled past
``KEFU_WEBHOOK_CLAIM_IDLE_SECONDS``) is taken over with ``XAUTOCLAIM`` — so an event is
delivered at least once, and a second delivery carries the same event id.

A failed delivery waits in the retry set (scored by when it is due). A node claims the
due ones by pushing their score a lease ahead (one script, so two nodes never claim the
same one); a node that dies with a claim leaves it to come due again after the lease.
Settling (the attempts' log lines, the next retries, the acks) is one MULTI.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from kefu.domain import iso
from kefu.persistence import webhooks
from kefu.persistence.redis import Store

GROUP = "deliver"
MAX_RETRIES_HELD = 100_000  # failed deliveries waiting; past it a failure is given up

# KEYS: retries.  ARGV: now, lease seconds, count → the claimed members
CLAIM_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), member)
end
return due
"""


def event_of(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """A stream entry → the event as delivered (its id is the entry's, so a redelivery
    carries the same one; ``created_at`` is the entry's time)."""
    ms = int(entry_id.split("-", 1)[0])
    stamp = iso(ms / 1000)
    assert stamp is not None
    created = stamp[:-1] + f".{ms % 1000:03d}Z"
    return {"id": f"evt_{entry_id}", "type": fields.get("type", ""), "created_at": created,
            "data": orjson.loads(fields.get("data") or "{}")}


@dataclass
class Batch:
    """Events read for this node (``entries``: stream id → event), the cursor for the
    next take-over scan, and how many pending events the stream's cap had dropped."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursor: str = "0-0"
    dropped: int = 0


def ensure_group(store: Store) -> None:
    try:
        store.client.xgroup_create(store.keys.webhooks_outbox, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def take(store: Store, consumer: str, idle_ms: int, cursor: str, count: int) -> Batch:
    """What a dead or stalled node left pending (idle over ``idle_ms``), then new events."""
    key = store.keys.webhooks_outbox
    batch = Batch()
    claimed = store.client.xautoclaim(key, GROUP, consumer, idle_ms, start_id=cursor,
                                      count=count)
    batch.cursor = claimed[0]
    batch.dropped = len(claimed[2]) if len(claimed) > 2 else 0
    for entry_id, fields in claimed[1]:
        if fields:
            batch.entries[entry_id] = event_of(entry_id, fields)
    if len(batch.entries) < count:
        for _stream, entries in store.client.xreadgroup(GROUP, consumer, {key: ">"},
                                                        count=count) or []:
            for entry_id, fields in entries:
                batch.entries[entry_id] = event_of(entry_id, fields)
    return batch


def claim_due(store: Store, at: float, lease: float, count: int) -> list[str]:
    """The retries due at ``at``, now leased to this node for ``lease`` seconds."""
    script = store.client.register_script(CLAIM_LUA)
    return list(script(keys=[store.keys.webhooks_retries], args=[at, lease, count]))


def retry_member(event: dict[str, Any], hook_id: str, attempt: int) -> bytes:
    return orjson.dumps({"e": event, "h": hook_id, "n": attempt})


def parse_member(member: str) -> tuple[dict[str, Any], str, int]:
    raw = orjson.loads(member)
    return raw["e"], raw["h"], int(raw["n"])


def settle(store: Store, acked: list[str], done: list[str],
           again: list[tuple[bytes, float]], attempts: list[dict[str, Any]]) -> int:
    """One MULTI: log ``attempts``, drop the ``done`` retries, add ``again`` (member, due)
    unless the retry set is full, ack and delete the ``acked`` stream entries → how many
    retries were given up because the set was full."""
    k = store.keys
    room = MAX_RETRIES_HELD - int(store.client.zcard(k.webhooks_retries))
    keep = again[:max(room, 0)]
    pipe = store.client.pipeline(transaction=True)
    webhooks.log_attempts(pipe, store, attempts)
    if done:
        pipe.zrem(k.webhooks_retries, *done)
    if keep:
        pipe.zadd(k.webhooks_retries, dict(keep))
    if acked:
        pipe.xack(k.webhooks_outbox, GROUP, *acked)
        pipe.xdel(k.webhooks_outbox, *acked)
    pipe.execute()
    return len(again) - len(keep)


def enqueue_test(store: Store, hook_id: str, at: float) -> str:
    """A ``webhook.test`` event for one hook, due now (it takes the retry path, which
    names its hook) → its event id."""
    ms = int(at * 1000)
    event = event_of(f"{ms}-0", {"type": "webhook.test", "data": "{}"})
    event["id"] = f"evt_test_{secrets.token_hex(8)}"
    event["data"] = {"hook_id": hook_id}
    store.client.zadd(store.keys.webhooks_retries, {retry_member(event, hook_id, 1): at})
    return str(event["id"])
