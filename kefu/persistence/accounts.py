"""Administrative writes to user records (seed 3.4–3.6): update, permissions, delete.

Users are not actor-owned state (the dispatcher owns a kefu's capacity *in memory*, and
is told separately by the handler). Blocking: call these off the IOLoop
(``bridge.run_io``).
"""

from __future__ import annotations

import orjson
from redis.exceptions import WatchError

from kefu.persistence import teams
from kefu.persistence.redis import Store
from kefu.persistence.users import hash_password


def update_user(store: Store, user_id: str, *, name: str | None = None,
                max_sessions: int | None = None, password: str | None = None,
                permissions: list[str] | None = None) -> bool:
    """Write the given fields (a new password is hashed with a fresh salt); False when
    the user does not exist. One MULTI, so a concurrent delete cannot resurrect a stub."""
    fields: dict[str, str | int] = {}
    if name is not None:
        fields["name"] = name
    if max_sessions is not None:
        fields["max_sessions"] = max_sessions
    if password is not None:
        fields["pw_salt"], fields["pw_hash"] = hash_password(password)
    if permissions is not None:
        fields["permissions"] = orjson.dumps(permissions).decode()
    key = store.keys.user(user_id)
    r = store.client
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key)
                if not pipe.exists(key):
                    pipe.reset()
                    return False
                pipe.multi()
                if fields:
                    pipe.hset(key, mapping=fields)
                pipe.execute()
                return True
            except WatchError:
                continue


def delete_user(store: Store, user_id: str) -> int:
    """Remove the user's hash, its entry in the users index, and every token it holds
    → how many tokens were revoked. Its sessions, messages and
    their indexes stay: they are history."""
    r, k = store.client, store.keys
    tokens = list(r.smembers(k.user_tokens(user_id)))
    pipe = r.pipeline(transaction=True)
    for token in tokens:
        pipe.delete(k.token(token))
    pipe.delete(k.user_tokens(user_id), k.user(user_id))
    pipe.zrem(k.users, user_id)
    pipe.execute()
    teams.forget_agent(store, user_id)  # a kefu leaves its teams (nobody else is in one)
    return len(tokens)

