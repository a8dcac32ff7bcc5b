"""Teams (issue 14, item 1): an index set, one hash of settings per team and one hash of
members (kefu id → skill level). Admin writes, each atomic on its own; blocking, called
from the executor (``bridge.run_io``).

The dispatcher routes by them (``actors/team_rules.py``, docs/routing.md).
"""

from __future__ import annotations

from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence.redis import Store

FIELDS = ("name", "description", "assignment", "offer_seconds", "overflow_after_seconds",
          "overflow_to", "max_wait_seconds", "hours")

# KEYS: teams, team.  ARGV: id, then field/value pairs → 1 created | 0 the id is taken
CREATE_LUA = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1
"""


def _encode(fields: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, value in fields.items():
        out += [name, orjson.dumps(value).decode()]
    return out


def _team(team_id: str, raw: dict[str, str], members: dict[str, str]) -> dict[str, Any]:
    team: dict[str, Any] = {"id": team_id}
    for name in (*FIELDS, "created_at", "updated_at"):
        team[name] = orjson.loads(raw[name]) if name in raw else None
    team["members"] = [{"kefu_id": k, "skill": int(v)} for k, v in sorted(members.items())]
    return team


def create(store: Store, team_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """A new team → its view; None when the id is taken."""
    k = store.keys
    at = iso(now())
    script = store.client.register_script(CREATE_LUA)
    if not script(keys=[k.teams, k.team(team_id)],
                  args=[team_id, *_encode({**fields, "created_at": at, "updated_at": at})]):
        return None
    return get(store, team_id)


def get(store: Store, team_id: str) -> dict[str, Any] | None:
    k = store.keys
    pipe = store.client.pipeline(transaction=False)
    pipe.sismember(k.teams, team_id)
    pipe.hgetall(k.team(team_id))
    pipe.hgetall(k.team_members(team_id))
    exists, raw, members = pipe.execute()
    return _team(team_id, raw, members) if exists else None


def all_teams(store: Store) -> list[dict[str, Any]]:
    k = store.keys
    ids = sorted(store.client.smembers(k.teams))
    pipe = store.client.pipeline(transaction=False)
    for team_id in ids:
        pipe.hgetall(k.team(team_id))
        pipe.hgetall(k.team_members(team_id))
    replies = pipe.execute()
    return [_team(t, replies[2 * i], replies[2 * i + 1]) for i, t in enumerate(ids)]


def update(store: Store, team_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Change the given settings → the team's view; None when there is no such team."""
    k = store.keys
    if not store.client.sismember(k.teams, team_id):
        return None
    store.client.hset(k.team(team_id), mapping={
        name: orjson.dumps(value).decode()
        for name, value in {**fields, "updated_at": iso(now())}.items()})
    return get(store, team_id)


def delete(store: Store, team_id: str) -> bool:
    k = store.keys
    pipe = store.client.pipeline(transaction=True)
    pipe.srem(k.teams, team_id)
    pipe.delete(k.team(team_id), k.team_members(team_id))
    return bool(pipe.execute()[0])


def set_member(store: Store, team_id: str, kefu_id: str, skill: int) -> dict[str, Any] | None:
    k = store.keys
    if not store.client.sismember(k.teams, team_id):
        return None
    store.client.hset(k.team_members(team_id), kefu_id, skill)
    return get(store, team_id)


def remove_member(store: Store, team_id: str, kefu_id: str) -> bool:
    return bool(store.client.hdel(store.keys.team_members(team_id), kefu_id))


def forget_agent(store: Store, kefu_id: str) -> None:
    """A deleted kefu leaves every team."""
    k = store.keys
    pipe = store.client.pipeline(transaction=False)
    for team_id in store.client.smembers(k.teams):
        pipe.hdel(k.team_members(team_id), kefu_id)
    pipe.execute()
