"""Messages left (issue 14, item 4): what a customer writes when nobody can chat — outside
its team's business hours, past its team's ``max_wait_seconds``, or with nobody online —
and the agents' replies. Blocking; called from the executor (``bridge.run_io``).

One hash per message, a time index of all of them, one of those still open and one per
customer. Leaving is one MULTI; a reply is one script that answers an open message only
(two agents replying at once: the first one's reply stands, the other is told).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from redis.client import Pipeline

from kefu.domain import iso, now
from kefu.persistence.keys import Keys
from kefu.persistence.redis import Store
from kefu.persistence.webhook_events import EMIT_LUA, HOOK_LUA  # webhooks (issue 16)

FIELDS = ("id", "kehu_id", "kehu_name", "team", "content", "name", "email", "phone",
          "reason", "status", "created_at", "reply", "replied_by", "replied_by_name",
          "replied_at")

# KEYS: message, open index.  ARGV: reply, kefu id, kefu name, now (iso), id
# → 1 answered, 0 not open (answered already), -1 no such message
REPLY_LUA = HOOK_LUA + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'answered', 'reply', ARGV[1], 'replied_by', ARGV[2],
           'replied_by_name', ARGV[3], 'replied_at', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[5])
local left = {}
local raw = redis.call('HGETALL', KEYS[1])
for i = 1, #raw, 2 do left[raw[i]] = raw[i + 1] end
hook_event(string.sub(KEYS[2], 1, -10), 'message_left.replied', {message_left = left})
return 1
"""


def _view(raw: dict[str, str]) -> dict[str, Any]:
    return {name: (raw.get(name) or None) for name in FIELDS}


def leave(store: Store, kehu_id: str, kehu_name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Store a message left by ``kehu_id`` (``fields``: content, team, name, email, phone,
    reason) → its view."""
    k = store.keys
    at = now()
    left_id = f"lm_{uuid.uuid4().hex[:20]}"
    record = {"id": left_id, "kehu_id": kehu_id, "kehu_name": kehu_name, "status": "open",
              "created_at": iso(at),
              **{name: str(value) for name, value in fields.items() if value is not None}}
    pipe = store.client.pipeline(transaction=True)
    pipe.hset(k.left(left_id), mapping=record)
    pipe.zadd(k.left_all, {left_id: at})
    pipe.zadd(k.left_open, {left_id: at})
    pipe.zadd(k.left_by(kehu_id), {left_id: at})
    pipe.eval(EMIT_LUA, 2, k.webhooks_subscribed, k.webhooks_outbox, "message_left.created",
              orjson.dumps({"message_left": _view(record)}))
    pipe.execute()
    return _view(record)


def forget(pipe: Pipeline, k: Keys, left_id: str, kehu_id: str | None) -> None:
    """Queue the commands that remove a message left and its index entries (erasure and
    retention, kefu/persistence/erasure.py and retention.py)."""
    pipe.delete(k.left(left_id))
    pipe.zrem(k.left_all, left_id)
    pipe.zrem(k.left_open, left_id)
    if kehu_id:
        pipe.zrem(k.left_by(kehu_id), left_id)


def _many(store: Store, ids: list[str]) -> list[dict[str, Any]]:
    pipe = store.client.pipeline(transaction=False)
    for left_id in ids:
        pipe.hgetall(store.keys.left(left_id))
    return [_view(raw) for raw in pipe.execute() if raw]


def of_customer(store: Store, kehu_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The customer's latest messages left, newest first, with their replies."""
    ids = store.client.zrevrange(store.keys.left_by(kehu_id), 0, limit - 1)
    return _many(store, ids)


def listing(store: Store, status: str, teams: set[str] | None, page: int,
            limit: int) -> tuple[list[dict[str, Any]], int]:
    """``status`` open (oldest first: the list agents work through) or all (newest
    first); ``teams``: only messages of these teams or of none (None: every message) →
    (a page of them, the total)."""
    k = store.keys
    start = (page - 1) * limit
    read = store.client.zrange if status == "open" else store.client.zrevrange
    key = k.left_open if status == "open" else k.left_all
    if teams is None:  # an admin: one page read
        return _many(store, read(key, start, start + limit - 1)), store.client.zcard(key)
    found = [m for m in _many(store, read(key, 0, -1))
             if m["team"] is None or m["team"] in teams]
    return found[start:start + limit], len(found)


def get(store: Store, left_id: str) -> dict[str, Any] | None:
    raw = store.client.hgetall(store.keys.left(left_id))
    return _view(raw) if raw else None


def reply(store: Store, left_id: str, content: str, kefu_id: str,
          kefu_name: str) -> dict[str, Any] | int:
    """Answer an open message → its view; 0 when it was answered already, -1 when there
    is no such message."""
    k = store.keys
    script = store.client.register_script(REPLY_LUA)
    result = int(script(keys=[k.left(left_id), k.left_open],
                        args=[content, kefu_id, kefu_name, iso(now()), left_id]))
    if result != 1:
        return result
    found = get(store, left_id)
    assert found is not None
    return found
