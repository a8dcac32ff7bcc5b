"""What the cluster drills check beyond the ledger and the routing invariants, read straight
from Redis (never through the nodes):

- **single owner**: in the lease log, every shard's epochs strictly increase (no epoch is
  handed out twice) and each acquisition names one node;
- **inbox drained**: every shard's inbox has nothing pending and nothing unread;
- **fenced writes**: how many writes each node's scripts refused.

Each check returns human-readable violations (empty: sound). The drill's test plants each
violation and shows it is reported.
"""

from __future__ import annotations

from typing import Any

from kefu.cluster.inbox import GROUP
from kefu.persistence.keys import DISPATCHER_SHARD, Keys


def epoch_violations(r: Any, keys: Keys) -> list[str]:
    """Epochs per shard in the lease log must strictly increase."""
    out: list[str] = []
    last: dict[str, int] = {}
    for _entry_id, fields in r.xrange(keys.lease_log):
        shard, epoch = fields["shard"], int(fields["epoch"])
        if shard in last and epoch <= last[shard]:
            out.append(f"shard {shard}: epoch {epoch} after {last[shard]} "
                       f"(node {fields['node']})")
        last[shard] = max(epoch, last.get(shard, 0))
    return out


def inbox_violations(r: Any, keys: Keys, shards: int) -> list[str]:
    """Entries still pending (read, never acknowledged) or never read, per shard."""
    out: list[str] = []
    for shard in [str(s) for s in range(shards)] + [DISPATCHER_SHARD]:
        stream = keys.inbox(shard)
        if not r.exists(stream):
            continue
        for group in r.xinfo_groups(stream):
            if group["name"] != GROUP:
                continue
            pending, lag = int(group.get("pending") or 0), int(group.get("lag") or 0)
            if pending or lag:
                out.append(f"inbox {shard}: {pending} pending, {lag} unread")
    return out


def fenced_writes(r: Any, keys: Keys) -> dict[str, int]:
    return {node: int(n) for node, n in r.hgetall(keys.fenced_count).items()}
