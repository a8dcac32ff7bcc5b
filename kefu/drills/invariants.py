"""The routing invariants, read straight from Redis (never through the server under test).

- a kehu has at most one active session (assignment hash, active sets and session
  statuses agree);
- no kefu has more active sessions than its ``max_sessions``;
- nobody is both queued and assigned;
- every session's ``seq`` is contiguous (stream, hash and count agree).

Each check returns human-readable violations; an empty list means the state is sound.
"""

from __future__ import annotations

from typing import Any

from kefu.drills.ledger import stored_messages
from kefu.persistence.keys import Keys


def violations(r: Any, keys: Keys, kehu_ids: list[str],
               kefu_caps: dict[str, int]) -> list[str]:
    """Every broken invariant for these users (their sessions included)."""
    out: list[str] = []
    queue = set(r.hkeys(keys.queue))
    assign = r.hgetall(keys.assignments)
    for kehu in kehu_ids:
        active = sorted(r.smembers(keys.active_sessions(kehu)))
        statuses = {sid: r.hget(keys.session(sid), "status") for sid in
                    r.zrange(keys.user_sessions(kehu), 0, -1)}
        live = sorted(sid for sid, st in statuses.items() if st == "active")
        if len(active) > 1 or len(live) > 1:
            out.append(f"{kehu}: {len(live)} active sessions {live} (active set {active})")
        if live != active:
            out.append(f"{kehu}: active set {active} but sessions active {live}")
        if assign.get(kehu) != (live[0] if live else None):
            out.append(f"{kehu}: assignment {assign.get(kehu)} but active {live}")
        if kehu in queue and kehu in assign:
            out.append(f"{kehu}: both queued and assigned ({assign[kehu]})")
    for kefu, cap in kefu_caps.items():
        active = r.smembers(keys.active_sessions(kefu))
        if len(active) > cap:
            out.append(f"{kefu}: {len(active)} active sessions over its capacity {cap}")
    for sid in sessions_of(r, keys, kehu_ids):
        _msgs, ok = stored_messages(r, keys, sid)
        if not ok:
            out.append(f"{sid}: seq not contiguous")
    return out


def sessions_of(r: Any, keys: Keys, user_ids: list[str]) -> list[str]:
    """Every session id these users ever had."""
    sids: set[str] = set()
    for uid in user_ids:
        sids.update(r.zrange(keys.user_sessions(uid), 0, -1))
    return sorted(sids)
