"""Outbound webhooks (issue 16, item 2): one hash per hook, an index set, the set of event
types some active hook wants (the scripts read it before they write an event) and a
capped delivery log per hook. Blocking; called from the executor (``bridge.run_io``).

Every write rebuilds the subscribed set in the same MULTI (a script reading all hooks),
so two admins changing hooks at once cannot leave it stale.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence.redis import Store

MAX_HOOKS = 20
LOG_SIZE = 100  # delivery attempts kept per hook
FIELDS = ("id", "url", "events", "active", "description", "created_at", "updated_at",
          "created_by")  # and ``secret``: only for the worker (shown once, like a site's)

# KEYS: all hooks, subscribed.  ARGV: the hook key prefix → how many types are wanted
REBUILD_LUA = """
redis.call('DEL', KEYS[2])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HMGET', ARGV[1] .. id, 'events', 'active')
  if h[2] == '1' and h[1] then
    for e in string.gmatch(h[1], '[^,]+') do redis.call('SADD', KEYS[2], e) end
  end
end
return redis.call('SCARD', KEYS[2])
"""

# KEYS: the hook.  ARGV: secret, now (iso) → 1, or 0 when there is no such hook
ROTATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'updated_at', ARGV[2])
return 1
"""


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _view(raw: dict[str, str], with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {name: (raw.get(name) or None) for name in FIELDS}
    if with_secret:
        out["secret"] = raw.get("secret") or ""
    out["events"] = [e for e in (raw.get("events") or "").split(",") if e]
    out["active"] = raw.get("active") == "1"
    return out


def _record(fields: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in fields.items():
        if name == "events":
            out[name] = ",".join(sorted(set(value)))
        elif name == "active":
            out[name] = "1" if value else "0"
        elif value is not None:
            out[name] = str(value)
    return out


def _rebuild(store: Store, pipe: Any) -> None:
    k = store.keys
    pipe.eval(REBUILD_LUA, 2, k.webhooks_all, k.webhooks_subscribed, k.webhook(""))


def count(store: Store) -> int:
    return int(store.client.scard(store.keys.webhooks_all))


def create(store: Store, fields: dict[str, Any], by: str) -> tuple[dict[str, Any], str]:
    """A new hook (``fields``: url, events, secret or None for a generated one, active,
    description) → (its view, its secret)."""
    k = store.keys
    at = iso(now())
    hook_id = f"wh_{uuid.uuid4().hex[:16]}"
    record = {"id": hook_id, "created_at": at, "updated_at": at, "created_by": by,
              **_record({**fields, "secret": fields.get("secret") or new_secret()})}
    pipe = store.client.pipeline(transaction=True)
    pipe.hset(k.webhook(hook_id), mapping=record)
    pipe.sadd(k.webhooks_all, hook_id)
    _rebuild(store, pipe)
    pipe.execute()
    return _view(record), record["secret"]


def get(store: Store, hook_id: str) -> dict[str, Any] | None:
    raw = store.client.hgetall(store.keys.webhook(hook_id))
    return _view(raw) if raw else None


def all_hooks(store: Store, with_secret: bool = False) -> list[dict[str, Any]]:
    """Every hook, oldest first (``with_secret``: for the delivery worker)."""
    k = store.keys
    ids = sorted(store.client.smembers(k.webhooks_all))
    pipe = store.client.pipeline(transaction=False)
    for hook_id in ids:
        pipe.hgetall(k.webhook(hook_id))
    return sorted((_view(raw, with_secret) for raw in pipe.execute() if raw),
                  key=lambda h: (h["created_at"] or "", h["id"]))


def update(store: Store, hook_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Change the given fields → the view, or None when there is no such hook."""
    k = store.keys
    if not store.client.exists(k.webhook(hook_id)):
        return None
    pipe = store.client.pipeline(transaction=True)
    pipe.hset(k.webhook(hook_id), mapping={**_record(fields), "updated_at": iso(now())})
    _rebuild(store, pipe)
    pipe.execute()
    return get(store, hook_id)


def rotate_secret(store: Store, hook_id: str) -> str | None:
    """A new generated secret (the old one stops at once) → it, or None (no such hook)."""
    secret = new_secret()
    done = store.client.eval(ROTATE_LUA, 1, store.keys.webhook(hook_id), secret, iso(now()))
    return secret if int(done) else None


def delete(store: Store, hook_id: str) -> bool:
    """Remove the hook and its log (its pending retries are dropped when they come due)."""
    k = store.keys
    pipe = store.client.pipeline(transaction=True)
    pipe.srem(k.webhooks_all, hook_id)
    pipe.delete(k.webhook(hook_id), k.webhook_log(hook_id))
    _rebuild(store, pipe)
    return bool(pipe.execute()[0])


def log_attempts(pipe: Any, store: Store, attempts: list[dict[str, Any]]) -> None:
    """Queue the attempts (each with ``hook_id``) into their hooks' logs on ``pipe``."""
    k = store.keys
    for attempt in attempts:
        key = k.webhook_log(attempt["hook_id"])
        pipe.lpush(key, orjson.dumps(attempt))
        pipe.ltrim(key, 0, LOG_SIZE - 1)


def deliveries(store: Store, hook_id: str) -> list[dict[str, Any]]:
    """The hook's latest delivery attempts, newest first."""
    return [orjson.loads(raw) for raw in store.client.lrange(store.keys.webhook_log(hook_id),
                                                             0, LOG_SIZE - 1)]
