"""Routing policy: pure functions and plain data, no pykka, no Redis.

The dispatcher owns the state; this module decides who is available, who is next in the
queue, which agent gets a customer, and how long a customer should expect to wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kefu.domain import PRIORITY_RANK, AgentStatus, Priority


@dataclass
class AgentSlot:
    """The dispatcher's view of one kefu."""

    kefu_id: str
    name: str
    max_sessions: int = 5
    status: AgentStatus = AgentStatus.OFFLINE
    connections: int = 0
    disconnected_at: float | None = None
    active: set[str] = field(default_factory=set)
    reserved: set[str] = field(default_factory=set)  # kehu offered to it: seats held
    last_assigned_at: float = 0.0
    resp_total: float = 0.0
    resp_count: int = 0
    sat_total: float = 0.0
    sat_count: int = 0

    @property
    def load(self) -> int:
        """Seats taken: its sessions and the offers it holds."""
        return len(self.active) + len(self.reserved)

    @property
    def online(self) -> bool:
        return self.status is AgentStatus.ONLINE and self.connections > 0

    @property
    def effective_status(self) -> AgentStatus:
        return self.status if self.connections > 0 else AgentStatus.OFFLINE

    @property
    def has_room(self) -> bool:
        return self.load < self.max_sessions

    @property
    def available(self) -> bool:
        return self.online and self.has_room

    @property
    def utilization(self) -> float:
        """Load as a fraction of capacity (0..1, may exceed 1 after a forced assign)."""
        return self.load / self.max_sessions if self.max_sessions else 1.0

    @property
    def avg_response(self) -> float | None:
        return self.resp_total / self.resp_count if self.resp_count else None

    @property
    def satisfaction(self) -> float | None:
        return self.sat_total / self.sat_count if self.sat_count else None


def efficiency_score(slot: AgentSlot) -> float:
    """The seed's ``efficiency_score``: higher is better.

    ``2 × satisfaction (1..5, 5 without ratings) + 10 × (1 − utilization)
    − min(average first-reply seconds, 300) / 60``. An agent with 3 of 5 seats taken, no
    ratings and no replies yet scores 14.0 (the seed's example).
    """
    sat = slot.satisfaction if slot.satisfaction is not None else 5.0
    util = min(slot.utilization, 1.0)
    penalty = min(slot.avg_response or 0.0, 300.0) / 60.0
    return round(2 * sat + 10 * (1 - util) - penalty, 1)


@dataclass
class QueueEntry:
    """A waiting kehu."""

    kehu_id: str
    kehu_name: str
    priority: Priority = Priority.NORMAL
    waiting_since: float = 0.0
    note: str | None = None
    front: bool = False  # requeued after its agent left: ahead of everyone
    team: str | None = None  # the team it entered through (None: any agent)
    previous: str = ""  # its session before it was requeued (history follows it)
    preview: str | None = None  # the first thing it wrote while waiting (consoles show it)

    def sort_key(self, head_start: float = math.inf) -> tuple[int, float, int, float, str]:
        """The queue's order: requeued first, then the smallest *effective arrival*
        ``waiting_since − bonus``, where the bonus is ``head_start`` seconds for high,
        0 for normal and ``−head_start`` for low priority (docs/routing.md, "Aging").
        Equivalently every waiting customer's score ``waited + bonus`` grows by one a
        second and the highest is served: a low customer overtakes high ones that arrive
        more than ``2 × head_start`` after it — nobody starves. ``inf``: strict priority."""
        bonus = {0: head_start, 1: 0.0, 2: -head_start}[PRIORITY_RANK[self.priority]]
        return (0 if self.front else 1, self.waiting_since - bonus,
                PRIORITY_RANK[self.priority], self.waiting_since, self.kehu_id)


def queue_order(entries: list[QueueEntry], head_start: float = math.inf) -> list[QueueEntry]:
    """Requeued customers first, then by effective arrival (:meth:`QueueEntry.sort_key`:
    priority as a head start of ``head_start`` seconds), then time."""
    return sorted(entries, key=lambda e: e.sort_key(head_start))


@dataclass
class RoundRobin:
    last: str | None = None


def pick_agent(slots: list[AgentSlot], strategy: str, rr: RoundRobin,
               skills: dict[str, int] | None = None) -> AgentSlot | None:
    """Choose an available agent by strategy; None when nobody has room. ``skills``
    (kefu id → skill in the customer's team): between agents the strategy ranks equal,
    the higher skill wins."""
    candidates = [s for s in slots if s.available]
    if not candidates:
        return None
    known = skills or {}

    def skill(s: AgentSlot) -> int:
        return known.get(s.kefu_id, 0)

    if strategy == "round_robin":
        ordered = sorted(candidates, key=lambda s: s.kefu_id)
        chosen = next((s for s in ordered if rr.last is None or s.kefu_id > rr.last),
                      ordered[0])
        rr.last = chosen.kefu_id
        return chosen
    least = min(candidates, key=lambda s: (s.utilization, -skill(s), s.last_assigned_at,
                                           s.kefu_id))
    if strategy == "efficiency":
        return max(candidates, key=lambda s: (efficiency_score(s), -s.utilization, skill(s),
                                              -s.last_assigned_at, s.kefu_id == least.kefu_id))
    return least


EXPLAINED = 20  # candidates and skipped agents listed per explanation (totals: all)


def skip_reason(slot: AgentSlot) -> str | None:
    """Why ``slot`` cannot take a customer now (None: it can): ``offline`` (no live
    connection), ``away`` or ``busy`` (its status), ``full`` (no seat free)."""
    if slot.connections <= 0:
        return "offline"
    if slot.status is not AgentStatus.ONLINE:
        return slot.status.value
    if not slot.has_room:
        return "full"
    return None


def explain_pick(slots: list[AgentSlot], strategy: str, chosen: AgentSlot,
                 reach: set[str] | None = None, skills: dict[str, int] | None = None,
                 passed: set[str] | None = None) -> dict[str, object]:
    """Why ``chosen`` got the customer (call it before the assignment changes the loads):
    the strategy, the candidates with their scores (the chosen one first, then the next
    best), the other agents with why each was skipped (``not_in_team``: outside the
    customer's ``reach``; ``declined``: it declined or missed an offer of this customer,
    in ``passed``) — at most ``EXPLAINED`` of each, with the totals — what
    ``GET /api/sessions/{id}/routing`` shows (docs/routing.md)."""
    candidates = []
    skipped = []
    for slot in sorted(slots, key=lambda s: s.kefu_id):
        reason = ("not_in_team" if reach is not None and slot.kefu_id not in reach
                  else "declined" if passed and slot.kefu_id in passed
                  else skip_reason(slot))
        if reason is not None:
            skipped.append({"kefu_id": slot.kefu_id, "reason": reason,
                            "load": slot.load, "max_sessions": slot.max_sessions})
            continue
        candidates.append({"kefu_id": slot.kefu_id, "load": slot.load,
                           "max_sessions": slot.max_sessions,
                           "utilization": round(slot.utilization, 3),
                           "efficiency_score": efficiency_score(slot),
                           "last_assigned_at": slot.last_assigned_at,
                           **({"skill": skills.get(slot.kefu_id, 0)} if skills else {}),
                           "chosen": slot.kefu_id == chosen.kefu_id})
    rule = {"least_loaded": ("lowest utilization, then the highest skill in the team, then "
                             "the longest since an assignment"),
            "round_robin": "the next agent id after the last one chosen",
            "efficiency": "highest efficiency score, then the lowest utilization"}
    order = {"efficiency": lambda c: (-c["efficiency_score"], c["utilization"]),
             "round_robin": lambda c: 0}.get(
        strategy, lambda c: (c["utilization"], -c.get("skill", 0), c["last_assigned_at"]))
    ranked = sorted(candidates, key=lambda c: (not c["chosen"], order(c), c["kefu_id"]))
    counts: dict[str, int] = {}
    for s in skipped:
        counts[str(s["reason"])] = counts.get(str(s["reason"]), 0) + 1
    return {"by": "strategy", "strategy": strategy, "rule": rule.get(strategy, strategy),
            "kefu_id": chosen.kefu_id, "candidates_total": len(candidates),
            "candidates": ranked[:EXPLAINED], "skipped_counts": counts,
            "skipped": skipped[:EXPLAINED]}


def explain_choice(by: str, kefu_id: str, actor: str | None = None,
                   **detail: object) -> dict[str, object]:
    """An assignment nobody's strategy made: ``by`` an admin (``kefu_id`` named, perhaps
    forced past capacity), an agent taking a waiting customer, or a transfer."""
    return {"by": by, "kefu_id": kefu_id, "actor": actor, **detail}


def estimate_wait(position: int, online_capacity: int, avg_session_seconds: float) -> int:
    """Seconds a kehu at ``position`` (1-based) should expect to wait.

    Each online seat frees on average once per ``avg_session_seconds``; with no agent
    online the estimate assumes one seat.
    """
    seats = max(online_capacity, 1)
    return int(math.ceil(position * avg_session_seconds / seats))
