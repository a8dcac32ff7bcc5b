"""Fencing tokens: a write of a shard's actor is valid only inside its owner's live lease.

In cluster mode (``kefu/cluster/leases.py``) a shard's lease key holds its owner's token,
``<node id>|<epoch>``, with a TTL. Every write script of an owned actor gets the lease key
as its last KEY and the writer's token as its last ARGV, and starts with ``fenced``: a
token that is not the lease's value right now — the lease expired, or another node took
it — refuses the write (``{'fenced', ''}``) and counts it in ``kefu:fenced`` (node → count).
An empty token (single-process mode, :data:`UNFENCED`) is never fenced.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

FENCE_LUA = """
local function fenced(key, token)
  if token == '' or redis.call('GET', key) == token then return false end
  local prefix = string.match(key, '^(.*)lease:') or ''
  redis.call('HINCRBY', prefix .. 'fenced', string.match(token, '^(.*)|') or token, 1)
  return true
end
"""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease key of the writer's shard and the token it holds (``''``: no cluster)."""

    key: str
    token: str = ""


UNFENCED = Fence("kefu:lease:-")


class Fenced(redis.RedisError):
    """A write script refused a write: this node no longer owns the shard. A Redis error,
    so every caller already answers it as "storage unavailable, retry" (the retry reaches
    the shard's new owner)."""
