"""Customer context (issue 15, item 4): a customer's profile, custom attributes, its
identity on an embedding site and the list of its conversations.

Keys (``keys.py``): ``customer:{id}`` (HASH: email, phone, ``fields`` — the pre-chat
answers as JSON —, ``site`` and ``external_id`` when identified, ``last_seen``),
``customer:{id}:attrs`` (HASH: attribute key → JSON value) and ``identity:{site}:{sha256
of the site's user id}`` (STRING: the customer id). The name stays in the user record.

Race-free: the (site, user id) → customer binding is made in one script (two devices
identifying at once get the same customer), and the attribute bound is checked in the
script that writes them. Blocking: call from the executor (``bridge.run_io``).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson

from kefu.domain import AgentStatus, UserType, iso, now
from kefu.persistence.history import session_view
from kefu.persistence.redis import Store

MAX_ATTRIBUTES = 50  # per customer (docs/security.md, README)

# KEYS: identity, users index, profile.  ARGV: user key prefix, new id, created (epoch),
# site, external id, now (iso), then the new user's field/value pairs → the customer id
IDENTIFY_LUA = """
local bound = redis.call('GET', KEYS[1])
if bound and redis.call('EXISTS', ARGV[1] .. bound) == 1 then return bound end
local id = ARGV[2]
redis.call('HSET', ARGV[1] .. id, unpack(ARGV, 7))
redis.call('ZADD', KEYS[2], ARGV[3], id)
redis.call('SET', KEYS[1], id)
redis.call('HSET', KEYS[3], 'site', ARGV[4], 'external_id', ARGV[5], 'last_seen', ARGV[6])
return id
"""

# KEYS: attrs hash.  ARGV: max keys, n (pairs to set), k1, v1, ..., kn, vn, keys to delete
# → the number of attributes after the change, or -1 (over the bound, nothing written)
SET_ATTRS_LUA = """
local n = tonumber(ARGV[2])
local grow = 0
for i = 0, n - 1 do
  if redis.call('HEXISTS', KEYS[1], ARGV[3 + 2 * i]) == 0 then grow = grow + 1 end
end
for i = 3 + 2 * n, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then grow = grow - 1 end
end
if redis.call('HLEN', KEYS[1]) + grow > tonumber(ARGV[1]) then return -1 end
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + 2 * n)) end
if #ARGV >= 3 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 3 + 2 * n)) end
return redis.call('HLEN', KEYS[1])
"""


def external_digest(external_id: str) -> str:
    """The key part for a site's user id (any characters, so hashed)."""
    return hashlib.sha256(external_id.encode()).hexdigest()


def identify(store: Store, site_id: str, external_id: str, name: str) -> str:
    """The customer bound to (site, external id), created (a kehu without a password,
    never swept as a guest) when there is none → its id."""
    k = store.keys
    created = now()
    new_id = f"kehu_{uuid.uuid4().hex[:12]}"
    fields = {"id": new_id, "name": name, "user_type": UserType.KEHU.value,
              "status": AgentStatus.ONLINE.value, "max_sessions": "5", "permissions": "[]",
              "created_at": iso(created) or ""}
    flat = [x for pair in fields.items() for x in pair]
    out = store.client.eval(IDENTIFY_LUA, 3, k.identity(site_id, external_digest(external_id)),
                            k.users, k.customer(new_id), k.user(""), new_id, created,
                            site_id, external_id, iso(created), *flat)
    return str(out)


def save_contact(store: Store, kehu_id: str, *, email: str | None = None,
                 phone: str | None = None, fields: dict[str, str] | None = None) -> None:
    """Record what the customer told (pre-chat form) or the site said (identify)."""
    record: dict[str, str] = {"last_seen": iso(now()) or ""}
    if email:
        record["email"] = email
    if phone:
        record["phone"] = phone
    if fields:
        record["fields"] = orjson.dumps(fields).decode()
    store.client.hset(store.keys.customer(kehu_id), mapping=record)


def set_attributes(store: Store, kehu_id: str, changes: dict[str, Any]) -> int:
    """Merge ``changes`` (a None value removes the key) → how many attributes the
    customer has now, or -1 when that would pass :data:`MAX_ATTRIBUTES` (nothing
    written)."""
    put = [(key, orjson.dumps(value).decode()) for key, value in changes.items()
           if value is not None]
    drop = [key for key, value in changes.items() if value is None]
    flat = [x for pair in put for x in pair]
    return int(store.client.eval(SET_ATTRS_LUA, 1, store.keys.customer_attrs(kehu_id),
                                 MAX_ATTRIBUTES, len(put), *flat, *drop))


def profile(store: Store, kehu_id: str) -> dict[str, Any]:
    """The stored profile fields (the caller adds the user record's name and times)."""
    k = store.keys
    pipe = store.client.pipeline(transaction=False)
    pipe.hgetall(k.customer(kehu_id))
    pipe.hgetall(k.customer_attrs(kehu_id))
    raw, attrs = pipe.execute()
    return {
        "email": raw.get("email") or None,
        "phone": raw.get("phone") or None,
        "fields": orjson.loads(raw["fields"]) if raw.get("fields") else {},
        "attributes": {key: orjson.loads(value) for key, value in sorted(attrs.items())},
        "identified": bool(raw.get("site")),
        "site": raw.get("site") or None,
        "external_id": raw.get("external_id") or None,
        "last_seen": raw.get("last_seen") or None,
    }


def _f(meta: dict[str, str], name: str) -> float | None:
    raw = meta.get(name)
    return float(raw) if raw not in (None, "") else None


def conversations(store: Store, kehu_id: str, page: int, limit: int
                  ) -> tuple[list[dict[str, Any]], int]:
    """The customer's sessions with any agent, newest first → (one page, total)."""
    k = store.keys
    sids = store.client.zrange(k.user_sessions(kehu_id), 0, -1)
    pipe = store.client.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(k.session(sid))
    metas = [m for m in pipe.execute() if m]
    metas.sort(key=lambda m: (_f(m, "created_at") or 0.0, m.get("session_id", "")),
               reverse=True)
    chosen = metas[(page - 1) * limit: page * limit]
    return [{**session_view(m), "satisfaction_score": _f(m, "satisfaction"),
             "rating_comment": m.get("rating_comment") or None} for m in chosen], len(metas)


def latest_activity(store: Store, kehu_id: str) -> float | None:
    """When the customer's newest session last changed (epoch), if it has one."""
    k = store.keys
    newest = store.client.zrange(k.user_sessions(kehu_id), -1, -1)
    if not newest:
        return None
    return _f({"u": store.client.hget(k.session(newest[0]), "updated_at") or ""}, "u")
