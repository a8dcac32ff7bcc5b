"""A user's stored permission list (issue 16; the catalogue is ``kefu/permissions.py``).

The user hash keeps ``permissions`` (a JSON list) and ``permissions_set`` ("1" when an
admin set the list; absent: the role's defaults apply). Blocking: call off the IOLoop
(``bridge.run_io``).
"""

from __future__ import annotations

import orjson

from kefu.persistence.redis import Store

MARK = "permissions_set"

# KEYS: user.  ARGV: the JSON list, or '' for "back to the role's defaults"
# → 1 written | 0 no such user (nothing written: a delete is never resurrected)
SET_PERMISSIONS_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'permissions', '[]')
  redis.call('HDEL', KEYS[1], 'permissions_set')
else
  redis.call('HSET', KEYS[1], 'permissions', ARGV[1], 'permissions_set', '1')
end
return 1
"""


def stored_list(raw: dict[str, str]) -> list[str] | None:
    """The list an admin set, from a user hash; None when none was (role defaults)."""
    if raw.get(MARK) != "1":
        return None
    value = orjson.loads(raw.get("permissions", "[]"))
    return [str(v) for v in value] if isinstance(value, list) else []


def set_permissions(store: Store, user_id: str, names: list[str] | None) -> bool:
    """Store ``names`` (None: back to the role's defaults); False when the user does
    not exist. One script: atomic with a concurrent delete."""
    arg = "" if names is None else orjson.dumps(names).decode()
    return bool(store.client.eval(SET_PERMISSIONS_LUA, 1, store.keys.user(user_id), arg))
