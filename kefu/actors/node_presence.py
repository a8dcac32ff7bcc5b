"""Who is connected, node by node: a part of the dispatcher (its thread only).

Each node reports its own live sockets per user (``AgentPresence``/``CustomerPresence``
carry the node's id; ``''`` in single-process mode), and a user's total is the sum. When a
node's heartbeat expires, its counts are dropped (:meth:`NodePresence.keep_nodes`): the
sockets died with it, and an agent's grace period starts instead of never ending.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NodePresence:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # user → node → sockets

    @classmethod
    def from_snapshot(cls, per_node: dict[str, dict[str, int]]) -> NodePresence:
        """node → user → sockets (the Outbox's ``presence()``) → presence (pure)."""
        counts: dict[str, dict[str, int]] = {}
        for node, users in per_node.items():
            for user, n in users.items():
                if n > 0:
                    counts.setdefault(user, {})[node] = n
        return cls(counts)

    def total(self, user: str) -> int:
        return sum(self.counts.get(user, {}).values())

    def totals(self) -> dict[str, int]:
        return {user: sum(nodes.values()) for user, nodes in self.counts.items()}

    def set(self, user: str, node: str, count: int) -> int:
        """``node`` now has ``count`` sockets of ``user`` → the user's total."""
        nodes = self.counts.setdefault(user, {})
        if count > 0:
            nodes[node] = count
        else:
            nodes.pop(node, None)
            if not nodes:
                del self.counts[user]
        return self.total(user)

    def keep_nodes(self, alive: set[str]) -> set[str]:
        """Drop the counts of every node not in ``alive`` → the users who lost sockets."""
        touched = set()
        for user, nodes in list(self.counts.items()):
            for node in [n for n in nodes if n not in alive]:
                del nodes[node]
                touched.add(user)
            if not nodes:
                del self.counts[user]
        return touched
