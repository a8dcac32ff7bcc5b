"""Guests (anonymous website visitors, ``POST /api/auth/guest``) and their expiry.

Every guest is in the ZSET ``Keys.guests_seen`` scored by its last activity: creation,
every request or socket handshake with its token (``UserStore.resolve_token``), and the
close of its last socket. :func:`sweep` removes the guests idle longer than
``KEFU_GUEST_TTL_DAYS``: the user record, its tokens, its index entries and its customer
profile (issue 15) go, in one script per guest that first checks the guest is not in an
active session, in the queue or assigned (those are kept, and looked at again a TTL
later). Its sessions and messages stay: they are history, readable by agents and admins
(the session keeps the guest's name). A guest with a live socket is kept too (the caller
passes who is connected).

Guests created before this index existed (kehu without a password) are indexed once by
:func:`index_existing`, scored by their creation time. Blocking: executor or actor
threads only.
"""

from __future__ import annotations

from collections.abc import Collection

from kefu.domain import UserType, parse_iso
from kefu.persistence.redis import Store

# KEYS: user, user_tokens, users, guests_seen, kehu_active, queue, assign, customer
# profile, customer attributes (issue 15)
# ARGV: user_id, token key prefix, now
REMOVE_GUEST_LUA = """
if redis.call('SCARD', KEYS[5]) > 0 or redis.call('HEXISTS', KEYS[6], ARGV[1]) == 1
   or redis.call('HEXISTS', KEYS[7], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  return 0
end
for _, digest in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[2] .. digest)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[8], KEYS[9])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""

BATCH = 500


def touch(store: Store, user_id: str, at: float) -> None:
    """A guest did something (a no-op for anyone who is not a guest)."""
    store.client.zadd(store.keys.guests_seen, {user_id: at}, xx=True)


def sweep(store: Store, ttl_seconds: float, at: float, connected: Collection[str]) -> int:
    """Remove the guests idle for ``ttl_seconds`` before ``at`` → how many went.
    ``connected``: user ids with a live socket (kept, and their activity renewed)."""
    r, k = store.client, store.keys
    script = r.register_script(REMOVE_GUEST_LUA)
    removed = 0
    while True:
        ids = r.zrangebyscore(k.guests_seen, "-inf", at - ttl_seconds, start=0, num=BATCH)
        if not ids:
            return removed
        for uid in ids:
            if uid in connected:
                touch(store, uid, at)
                continue
            removed += int(script(keys=[k.user(uid), k.user_tokens(uid), k.users,
                                        k.guests_seen, k.active_sessions(uid), k.queue,
                                        k.assignments, k.customer(uid),
                                        k.customer_attrs(uid)],
                                  args=[uid, k.token(""), at]))
        if len(ids) < BATCH:
            return removed


def index_existing(store: Store) -> int:
    """Index the guests created before ``guests_seen`` existed (once) → how many."""
    r, k = store.client, store.keys
    if not r.set(k.guests_indexed, "1", nx=True):
        return 0
    found = 0
    ids = r.zrange(k.users, 0, -1)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        pipe = r.pipeline(transaction=False)
        for uid in chunk:
            pipe.hmget(k.user(uid), "user_type", "pw_hash", "created_at")
        scores: dict[str, float] = {}
        for uid, (user_type, pw_hash, created) in zip(chunk, pipe.execute(), strict=True):
            if user_type == UserType.KEHU.value and not pw_hash:
                scores[uid] = parse_iso(created) if created else 0.0
        if scores:
            r.zadd(k.guests_seen, scores, nx=True)
            found += len(scores)
    return found
