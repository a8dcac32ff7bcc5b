"""Who is online, as the REST views show it: live sockets per user on every node.

In single-process mode it is the Hub's count. In cluster mode it adds every other node's
sockets as last read from their presence hashes in Redis (``set_remote``, once per lease
round: at most ``KEFU_LEASE_TTL_MS``/5 old). Loop thread; never blocks.
"""

from __future__ import annotations

from kefu.http.connections import Hub

Snapshot = dict[str, dict[str, tuple[int, str]]]  # node → user → (sockets, user type)


class Online:
    def __init__(self, hub: Hub, node: str = "") -> None:
        self.hub, self.node = hub, node
        self.remote: dict[str, tuple[int, str]] = {}  # user → (sockets elsewhere, type)

    def count(self, user_id: str) -> int:
        return self.hub.count(user_id) + self.remote.get(user_id, (0, ""))[0]

    def users_of_type(self, user_type: str) -> int:
        """Distinct users of one type with a live WebSocket anywhere."""
        here = {c.user_id for c in self.hub.conns.values() if c.user_type == user_type}
        there = {u for u, (n, t) in self.remote.items() if n and t == user_type}
        return len(here | there)

    def connected(self) -> frozenset[str]:
        return frozenset(self.hub.by_user) | frozenset(
            u for u, (n, _t) in self.remote.items() if n)

    def set_remote(self, snapshot: Snapshot) -> None:
        """Every other node's sockets (loop thread)."""
        remote: dict[str, tuple[int, str]] = {}
        for node, users in snapshot.items():
            if node == self.node:
                continue
            for user, (n, user_type) in users.items():
                before = remote.get(user, (0, user_type))[0]
                remote[user] = (before + n, user_type)
        self.remote = remote
