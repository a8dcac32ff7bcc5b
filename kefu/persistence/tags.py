"""Tags on conversations (issue 15, item 3): a bounded set per session and the indexes
that find sessions by tag. The set (``session_tags``), the per-tag index (``tag_sessions``,
scored by the session's creation time) and the usage counts (``tags_used``) change together
in one Lua script, so concurrent retags can never leave the index disagreeing with a
session. Nothing here touches the session hash (its actor owns it).

Blocking; called from the executor (``bridge.run_io``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kefu.persistence.listings import TimeRange
from kefu.persistence.redis import Store

MAX_TAGS = 10  # per session
MAX_TAG_LEN = 32
MAX_SUGGESTIONS = 200  # the most used tags offered
TAG = re.compile(r"^[\w.-]{1,32}$")  # letters of any script, digits, _ . -

# Replace a session's tags, keeping the indexes right.
# KEYS: the session hash, its tag set, the usage ZSET.  ARGV: the per-tag index prefix,
# the session id, then the new tags (normalised, distinct).  → -1 if the session is gone,
# else the number of tags.
SET_TAGS_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local score = tonumber(redis.call('HGET', KEYS[1], 'created_at') or '0') or 0
local new = {}
for i = 3, #ARGV do new[ARGV[i]] = true end
for _, old in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not new[old] then
    redis.call('ZREM', ARGV[1] .. old, ARGV[2])
    if tonumber(redis.call('ZINCRBY', KEYS[3], -1, old)) <= 0 then
      redis.call('ZREM', KEYS[3], old)
    end
  end
end
for i = 3, #ARGV do
  local tag = ARGV[i]
  if redis.call('SISMEMBER', KEYS[2], tag) == 0 then
    redis.call('ZINCRBY', KEYS[3], 1, tag)
  end
  redis.call('ZADD', ARGV[1] .. tag, score, ARGV[2])
end
redis.call('DEL', KEYS[2])
if #ARGV > 2 then redis.call('SADD', KEYS[2], unpack(ARGV, 3)) end
return #ARGV - 2
"""


class TagError(ValueError):
    """A tag list out of bounds; ``args[0]`` says why (the 400's detail)."""


def normalise(raw: list[str]) -> list[str]:
    """Tags as stored: NFKC, trimmed, case-folded, inner spaces as ``-``; distinct, in the
    given order. Raises :class:`TagError` for a bad tag or more than :data:`MAX_TAGS`."""
    out: list[str] = []
    for item in raw:
        tag = "-".join(unicodedata.normalize("NFKC", item).casefold().split())
        if not TAG.match(tag):
            raise TagError(f"each tag: 1-{MAX_TAG_LEN} letters, digits, '_', '.', '-' "
                           f"(spaces become '-'): {item[:40]!r}")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise TagError(f"at most {MAX_TAGS} tags")
    return out


def set_tags(store: Store, sid: str, tags: list[str]) -> list[str] | None:
    """Replace ``sid``'s tags with ``tags`` (normalised); None if the session is gone."""
    k = store.keys
    script = store.client.register_script(SET_TAGS_LUA)
    done = script(keys=[k.session(sid), k.session_tags(sid), k.tags_used],
                  args=[k.tag_prefix, sid, *tags])
    return None if int(done) < 0 else sorted(tags)


def of_session(store: Store, sid: str) -> list[str]:
    return sorted(store.client.smembers(store.keys.session_tags(sid)))


def of_sessions(store: Store, sids: list[str]) -> dict[str, list[str]]:
    pipe = store.client.pipeline(transaction=False)
    for sid in sids:
        pipe.smembers(store.keys.session_tags(sid))
    return {sid: sorted(found) for sid, found in zip(sids, pipe.execute(), strict=True)}


def used(store: Store) -> list[dict[str, object]]:
    """The tags in use, most used first (at most :data:`MAX_SUGGESTIONS`)."""
    rows = store.client.zrevrange(store.keys.tags_used, 0, MAX_SUGGESTIONS - 1,
                                  withscores=True)
    return [{"tag": tag, "sessions": int(score)} for tag, score in rows]


def sessions_with(store: Store, tag: str) -> list[str]:
    """The ids of the sessions carrying ``tag``, newest first."""
    return list(store.client.zrevrange(store.keys.tag_sessions(tag), 0, -1))


@dataclass(frozen=True)
class TagFigures:
    tag: str
    sessions: int
    completed: int
    messages: int
    rated: int
    satisfaction_total: float


def figures(store: Store, tags: list[str], created: TimeRange) -> list[TagFigures]:
    """Per tag, over its sessions created inside ``created``: how many, how many ended,
    their messages and ratings (read from the session hashes, pipelined)."""
    out: list[TagFigures] = []
    for tag in tags:
        sids = store.client.zrangebyscore(store.keys.tag_sessions(tag), created.redis_min(),
                                          created.redis_max())
        pipe = store.client.pipeline(transaction=False)
        for sid in sids:
            pipe.hmget(store.keys.session(sid), ["status", "message_count", "satisfaction"])
        found = completed = messages = rated = 0
        total = 0.0
        for status, count, sat in pipe.execute() if sids else []:
            if status is None:
                continue  # a session deleted with its user
            found += 1
            completed += status == "completed"
            messages += int(count or 0)
            if sat not in (None, ""):
                rated += 1
                total += float(sat)
        out.append(TagFigures(tag, found, completed, messages, rated, total))
    return out
