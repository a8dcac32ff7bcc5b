"""Moves between a session and the queue: a part of the dispatcher (its thread only).

A session closed and its customer queued again in the same script — transferred to a team
(at the front of that team's queue) or left by an agent gone past its grace period (at
the front of its team's) — with ``previous`` naming the closed session so the next agent
gets its history; and a waiting customer that leaves the queue because it left a message.
Each writes Redis first through the :class:`~kefu.actors.assigner.Assigner`'s scripts,
then memory, then frames.
"""

from __future__ import annotations

from typing import Any

import orjson

from kefu import protocol
from kefu.actors.assigner import Assigner, Result
from kefu.actors.messages import Accepted, Rejected
from kefu.actors.routing import AgentSlot, QueueEntry
from kefu.domain import Priority, SessionStatus, iso, now
from kefu.persistence import dispatch
from kefu.persistence.fencing import Fenced
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason


def team_of(meta: dict[str, str]) -> str | None:
    """The team a session was routed for (its stored ``routing``), if any."""
    try:
        team = orjson.loads(meta.get("routing") or b"{}").get("team")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return team if isinstance(team, str) else None


def transfer_to_team(desk: Assigner, sid: str, team: str, by: str, reason: str | None,
                     note: str | None) -> Result:
    """Close ``sid`` and put its kehu at the front of ``team``'s queue (one script); the
    next agent of the team with room gets it, with its history."""
    kehu_id, from_kefu = sid.split(":")
    if desk.assignments.get(kehu_id) != sid:
        return Rejected(reason=RejectReason.SESSION_NOT_ACTIVE)
    if desk.book.get(team) is None:
        return Rejected(reason=RejectReason.TEAM_NOT_FOUND)
    at = now()
    entry = QueueEntry(kehu_id=kehu_id, kehu_name=desk.meta(sid).get("kehu_name") or kehu_id,
                       waiting_since=at, note=note, front=True, team=team, previous=sid)
    closing = dispatch.close_session_command(
        desk.rt.store, sid, SessionStatus.TRANSFERRED.value, at, "transferred",
        requeue_json=desk.queue.entry_json(entry), transferred_to=f"team:{team}")
    if isinstance(closed := desk.close(sid, closing), Rejected):
        return closed
    desk.queue.requeued(entry)  # the close script queued it in Redis
    desk.rt.outbox.to_users([kehu_id, from_kefu], protocol.session_ended(
        sid, "transferred_to_team", by, iso(at)))
    desk.rt.event("info", "dispatcher", "transferred_to_team", session_id=sid, team=team)
    desk.fill_seats()
    new_sid = desk.assignments.get(kehu_id)
    return Accepted(data={"session_id": sid, "from_kefu_id": from_kefu,
                          "to_kefu_id": new_sid.split(":")[1] if new_sid else None,
                          "to_team": team, "transfer_time": iso(at), "reason": reason,
                          "note": note, "new_session_id": new_sid,
                          "status": "assigned" if new_sid else "queued"})


def requeue_agent(desk: Assigner, slot: AgentSlot) -> None:
    """The agent stayed away past the grace period: its kehu go to the front of their
    team's queue, their history with them."""
    for sid in sorted(slot.active):
        kehu_id = sid.split(":")[0]
        meta = desk.meta(sid)
        entry = QueueEntry(kehu_id=kehu_id, kehu_name=meta.get("kehu_name") or kehu_id,
                           priority=Priority.NORMAL, waiting_since=now(), front=True,
                           team=team_of(meta), previous=sid)
        closing = dispatch.close_session_command(
            desk.rt.store, sid, SessionStatus.COMPLETED.value, now(), "agent_offline",
            requeue_json=desk.queue.entry_json(entry))
        if isinstance(desk.close(sid, closing), Rejected):
            return
        desk.queue.requeued(entry)  # the close script queued it in Redis
        desk.rt.outbox.to_users([kehu_id, slot.kefu_id], protocol.session_ended(
            sid, "agent_offline", None, iso(now())))
        desk.rt.event("info", "dispatcher", "requeued", session_id=sid)
    desk.fill_seats()


def abandon_gone(desk: Assigner, at: float, after: float) -> None:
    """Every tick: a waiting kehu whose page has been gone ``after`` seconds (the
    dispatcher's clock: since it first saw it offline) leaves the queue; if it comes
    back, its widget asks again and it queues at the back. 0: never."""
    queue = desk.queue
    gone = queue.offline_since
    for kehu_id in list(gone):
        if kehu_id not in queue or kehu_id in queue.online:
            del gone[kehu_id]
    if after <= 0:
        return
    for kehu_id in queue.entries:
        if kehu_id not in queue.online:
            gone.setdefault(kehu_id, at)
    for kehu_id, since in list(gone.items()):
        if at - since < after:
            continue
        try:
            dispatch.drop_queue_entry(desk.rt.store, kehu_id, desk.fence, "page_gone")
        except Fenced:
            desk.stale(dispatch.Refused("fenced"))
            return
        except REDIS_ERRORS:
            return  # the next tick tries again
        del gone[kehu_id]
        queue.taken(kehu_id)
        desk.offering.forget(kehu_id, "withdrawn")
        desk.rt.event("info", "dispatcher", "queue_abandoned", kehu_id=kehu_id,
                      gone_seconds=round(at - since, 1))


def left_a_message(desk: Assigner, kehu_id: str, left: dict[str, Any]) -> Result:
    """The kehu left a message: it no longer waits (its entry and any offer of it go);
    the agents who could answer it (its team's, or everyone's) hear of it."""
    if kehu_id in desk.queue:
        try:
            dispatch.drop_queue_entry(desk.rt.store, kehu_id, desk.fence)
        except Fenced:
            return desk.stale(dispatch.Refused("fenced"))
        except REDIS_ERRORS:
            return Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
        desk.queue.taken(kehu_id)
        desk.offering.forget(kehu_id, "withdrawn")
        desk.fill_seats()  # a seat an offer held may be free again
    reach = desk.book.reach(left.get("team"), 0.0)
    agents = [s.kefu_id for s in desk.seats.agents.values()
              if s.connections > 0 and (reach is None or s.kefu_id in reach)]
    if agents:
        desk.rt.outbox.to_users(agents, protocol.message_left(left))
    return Accepted()
