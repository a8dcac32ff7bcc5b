"""The routing invariants, read straight from Redis (never through the server under test).

- a kehu has at most one active session (assignment hash, active sets and session
  statuses agree);
- no kefu has more active sessions than its ``max_sessions``;
- nobody is both queued and assigned;
- every session's ``seq`` is contiguous (stream, hash and count agree).

The routing state is read in one Lua script (atomic: a consistent snapshot even while
sessions open and close — a sampled read must not see half an assignment). Each check
returns human-readable violations; an empty list means the state is sound.
"""

from __future__ import annotations

from typing import Any

import orjson

from kefu.drills.ledger import stored_messages
from kefu.persistence.keys import Keys

# KEYS: assignments, queue.  ARGV: key prefix, then the kehu ids, '--', the kefu ids.
# → JSON {assign, queue, kehu: {id: {active: [...], statuses: {sid: status}}},
#         kefu: {id: active count}}
SNAPSHOT_LUA = """
local out = {assign = {}, queue = {}, kehu = {}, kefu = {}}
local a = redis.call('HGETALL', KEYS[1])
for i = 1, #a, 2 do out.assign[a[i]] = a[i + 1] end
for _, k in ipairs(redis.call('HKEYS', KEYS[2])) do out.queue[k] = true end
local p, kefus = ARGV[1], false
for i = 2, #ARGV do
  local id = ARGV[i]
  if id == '--' then kefus = true
  elseif kefus then out.kefu[id] = redis.call('SCARD', p .. 'user:' .. id .. ':active')
  else
    local statuses = {}
    for _, sid in ipairs(redis.call('ZRANGE', p .. 'user:' .. id .. ':sessions', 0, -1)) do
      statuses[sid] = redis.call('HGET', p .. 'session:' .. sid, 'status') or ''
    end
    out.kehu[id] = {active = redis.call('SMEMBERS', p .. 'user:' .. id .. ':active'),
                    statuses = statuses}
  end
end
return cjson.encode(out)
"""


def snapshot(r: Any, keys: Keys, kehu_ids: list[str], kefu_ids: list[str]) -> dict[str, Any]:
    """The routing state of these users, read atomically."""
    assert keys.active_sessions("x") == f"{keys.prefix}user:x:active"  # the script's names
    assert keys.user_sessions("x") == f"{keys.prefix}user:x:sessions"
    assert keys.session("x") == f"{keys.prefix}session:x"
    raw = r.eval(SNAPSHOT_LUA, 2, keys.assignments, keys.queue, keys.prefix, *kehu_ids, "--",
                 *kefu_ids)
    return dict(orjson.loads(raw))


def violations(r: Any, keys: Keys, kehu_ids: list[str],
               kefu_caps: dict[str, int]) -> list[str]:
    """Every broken invariant for these users (their sessions included)."""
    snap = snapshot(r, keys, kehu_ids, list(kefu_caps))
    out: list[str] = []
    assign, queue = _table(snap["assign"]), set(_table(snap["queue"]))
    for kehu in kehu_ids:
        seen = snap["kehu"].get(kehu) or {}
        active = sorted(_list(seen.get("active")))
        live = sorted(sid for sid, st in _table(seen.get("statuses")).items() if st == "active")
        if len(active) > 1 or len(live) > 1:
            out.append(f"{kehu}: {len(live)} active sessions {live} (active set {active})")
        if live != active:
            out.append(f"{kehu}: active set {active} but sessions active {live}")
        if assign.get(kehu) != (live[0] if live else None):
            out.append(f"{kehu}: assignment {assign.get(kehu)} but active {live}")
        if kehu in queue and kehu in assign:
            out.append(f"{kehu}: both queued and assigned ({assign[kehu]})")
    for kefu, cap in kefu_caps.items():
        n = int(_table(snap["kefu"]).get(kefu, 0))
        if n > cap:
            out.append(f"{kefu}: {n} active sessions over its capacity {cap}")
    for sid in sessions_of(r, keys, kehu_ids):
        _msgs, ok = stored_messages(r, keys, sid)
        if not ok:
            out.append(f"{sid}: seq not contiguous")
    return out


def _table(value: Any) -> dict[str, Any]:
    """A Lua table that cjson encoded: an object, or ``[]``/``{}`` when empty."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else []


def sessions_of(r: Any, keys: Keys, user_ids: list[str]) -> list[str]:
    """Every session id these users ever had."""
    sids: set[str] = set()
    for uid in user_ids:
        sids.update(r.zrange(keys.user_sessions(uid), 0, -1))
    return sorted(sids)
