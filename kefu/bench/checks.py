"""Pure checks of the burst scenario (no I/O, unit-tested): from the ``assigned`` frames each
guest and each agent received, and the REST listing of active sessions, was every guest
assigned exactly once, did any agent go over capacity, and do the two views agree?
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def assignment_checks(guest_frames: dict[str, list[str]], agent_frames: dict[str, list[str]],
                      max_sessions: int, rest_sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Check one burst.

    Args:
        guest_frames: guest id → the session ids of every ``assigned`` frame it received.
        agent_frames: agent id → the session ids of every ``assigned`` frame it received.
        max_sessions: every agent's capacity.
        rest_sessions: the active sessions as ``GET /api/sessions/list`` lists them
            (``session_id``, ``kefu_id``, ``kehu_id``).

    Returns the counts, the offending ids (at most 20 of each) and ``ok``.
    """
    unassigned = sorted(g for g, sids in guest_frames.items() if not sids)
    twice = sorted(g for g, sids in guest_frames.items() if len(sids) > 1)
    ws_sids = {sids[0] for sids in guest_frames.values() if sids}
    agent_load = {a: len(set(sids)) for a, sids in agent_frames.items()}
    over = sorted(a for a, n in agent_load.items() if n > max_sessions)
    repeated = sorted(a for a, sids in agent_frames.items() if len(sids) != len(set(sids)))
    agent_sids = {sid for sids in agent_frames.values() for sid in sids}
    # a session the guest saw but its agent never heard of (or the other way round)
    not_told = sorted(ws_sids - agent_sids)
    agent_only = sorted(agent_sids - ws_sids)
    wrong_agent = sorted(sid for a, sids in agent_frames.items() for sid in sids
                         if sid.split(":")[-1] != a)

    rest_sids = {s["session_id"] for s in rest_sessions}
    rest_per_kefu = Counter(s["kefu_id"] for s in rest_sessions)
    rest_per_kehu = Counter(s["kehu_id"] for s in rest_sessions)
    rest_over = sorted(k for k, n in rest_per_kefu.items() if n > max_sessions)
    rest_twice = sorted(k for k, n in rest_per_kehu.items() if n > 1)
    ws_not_rest = sorted(ws_sids - rest_sids)
    rest_not_ws = sorted(rest_sids - ws_sids)

    problems = [unassigned, twice, over, repeated, not_told, agent_only, wrong_agent,
                rest_over, rest_twice, ws_not_rest, rest_not_ws]
    return {
        "guests": len(guest_frames),
        "assigned": len(guest_frames) - len(unassigned),
        "unassigned": len(unassigned),
        "assigned_twice": len(twice),
        "agents": len(agent_frames),
        "max_agent_load": max(agent_load.values(), default=0),
        "agents_over_capacity": len(over),
        "agents_repeated_frames": len(repeated),
        "sessions_agent_not_told": len(not_told),
        "sessions_only_agent_saw": len(agent_only),
        "sessions_wrong_agent": len(wrong_agent),
        "rest_active_sessions": len(rest_sessions),
        "rest_max_agent_load": max(rest_per_kefu.values(), default=0),
        "rest_agents_over_capacity": len(rest_over),
        "rest_guests_twice": len(rest_twice),
        "ws_not_in_rest": len(ws_not_rest),
        "rest_not_in_ws": len(rest_not_ws),
        "examples": {name: ids[:20] for name, ids in (
            ("unassigned", unassigned), ("twice", twice), ("over_capacity", over),
            ("rest_over_capacity", rest_over), ("rest_twice", rest_twice),
            ("ws_not_in_rest", ws_not_rest), ("rest_not_in_ws", rest_not_ws)) if ids},
        "ok": not any(problems),
    }


def arrival_schedule(guests: int, seconds: float) -> list[float]:
    """Offsets at which guest ``i`` asks for service: evenly spaced in ``[0, seconds)``."""
    if guests <= 0:
        return []
    return [i * seconds / guests for i in range(guests)]


def completion_curve(offsets: list[float], points: int = 200) -> list[tuple[float, int]]:
    """``(seconds since the first arrival, how many were assigned by then)``, at most
    ``points`` steps, from the sorted assignment offsets (for the plot)."""
    xs = sorted(offsets)
    if not xs:
        return []
    step = max(1, len(xs) // points)
    out = [(round(xs[i], 4), i + 1) for i in range(0, len(xs), step)]
    if out[-1][1] != len(xs):
        out.append((round(xs[-1], 4), len(xs)))
    return out
