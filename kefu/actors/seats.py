"""The agents' seats: a part of the dispatcher (its thread only).

One :class:`~kefu.actors.routing.AgentSlot` per kefu: status, live connections, capacity,
the sessions it holds, its response and rating totals. :meth:`Seats.from_snapshot` is
pure; the choice of an agent is ``routing.pick_agent`` with the configured strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kefu.actors.routing import AgentSlot, RoundRobin, pick_agent
from kefu.domain import User, split_session_id


@dataclass
class Seats:
    agents: dict[str, AgentSlot] = field(default_factory=dict)
    rr: RoundRobin = field(default_factory=RoundRobin)

    @classmethod
    def from_snapshot(cls, kefu_users: list[User], figures: dict[str, dict[str, float]],
                      connections: dict[str, int], assignments: dict[str, str],
                      at: float) -> Seats:
        """Every kefu user, its figures, its live connections and who it serves → seats.
        A kefu with no connection counts as disconnected since ``at`` (its grace period
        starts again after a restart)."""
        agents = {}
        for user in kefu_users:
            live = connections.get(user.id, 0)
            slot = AgentSlot(kefu_id=user.id, name=user.name, max_sessions=user.max_sessions,
                             status=user.status, connections=live,
                             disconnected_at=None if live else at)
            f = figures.get(user.id)
            if f is not None:
                slot.resp_total, slot.resp_count = f["rt"], int(f["rc"])
                slot.sat_total, slot.sat_count = f["st"], int(f["sc"])
            agents[user.id] = slot
        for sid in assignments.values():
            pair = split_session_id(sid)
            if pair and pair[1] in agents:
                agents[pair[1]].active.add(sid)
        return cls(agents=agents)

    def get(self, kefu_id: str) -> AgentSlot | None:
        return self.agents.get(kefu_id)

    def __contains__(self, kefu_id: object) -> bool:
        return kefu_id in self.agents

    def pick(self, strategy: str, reach: set[str] | None = None,
             skills: dict[str, int] | None = None,
             exclude: set[str] | None = None) -> AgentSlot | None:
        """An online agent with room among ``reach`` (None: all) and not in ``exclude``,
        by ``strategy`` (``skills`` break ties); None when there is none."""
        slots = [s for s in self.agents.values()
                 if (reach is None or s.kefu_id in reach)
                 and (not exclude or s.kefu_id not in exclude)]
        return pick_agent(slots, strategy, self.rr, skills)

    def anyone_available(self) -> bool:
        return any(s.available for s in self.agents.values())

    def online_capacity(self, reach: set[str] | None = None) -> int:
        """Seats of the agents online among ``reach`` (None: all) — the queue's wait
        estimates."""
        return sum(s.max_sessions for s in self.agents.values()
                   if s.online and (reach is None or s.kefu_id in reach))

    def state_view(self) -> dict[str, dict[str, Any]]:
        """Each agent's live figures, for operators and the agent views."""
        return {k: {"status": s.status.value, "connections": s.connections,
                    "active": sorted(s.active), "max_sessions": s.max_sessions,
                    "reserved": sorted(s.reserved),
                    "last_assigned_at": s.last_assigned_at, "name": s.name,
                    "avg_response": s.avg_response, "satisfaction": s.satisfaction,
                    "totals": [s.resp_total, s.resp_count, s.sat_total, s.sat_count]}
                for k, s in self.agents.items()}

    def workload_view(self) -> list[dict[str, Any]]:
        """Each agent's live load, as the dashboard shows it (``workload`` frame)."""
        return [{"kefu_id": k, "name": s.name, "status": s.effective_status.value,
                 "active_sessions": len(s.active), "reserved": len(s.reserved),
                 "max_sessions": s.max_sessions}
                for k, s in sorted(self.agents.items())]

    def released(self, sid: str) -> None:
        pair = split_session_id(sid)
        slot = self.agents.get(pair[1]) if pair else None
        if slot is not None:
            slot.active.discard(sid)
