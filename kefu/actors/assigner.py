"""Who serves whom: a part of the dispatcher that opens, closes and transfers sessions
(its thread only).

Each operation writes Redis first (one script: a transfer's close and open are one
script too), then changes memory (the queue, the seats, the kehu → session map), then tells
the session and agent actors and pushes frames. A Redis error leaves everything as it was
and answers ``storage_unavailable``. The scripts hold the invariants themselves (one
active session per kehu, no kefu over capacity unless forced): when one refuses, this
dispatcher's memory was stale — it reloads from Redis and answers the refusal. A newcomer
meets an agent with room without ever being written to the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kefu import metrics, protocol
from kefu.actors.messages import (
    Accepted,
    AssignCustomer,
    CustomerAssigned,
    CustomerReleased,
    FocusCustomer,
    Rejected,
    SessionChanged,
)
from kefu.actors.offering import Offering
from kefu.actors.routing import AgentSlot, QueueEntry, explain_choice, explain_pick
from kefu.actors.runtime import Runtime
from kefu.actors.seats import Seats
from kefu.actors.team_rules import TeamBook
from kefu.actors.waiting_queue import WaitingQueue
from kefu.domain import Priority, SessionStatus, iso, now, session_id
from kefu.persistence import dispatch
from kefu.persistence.dispatch import Refused
from kefu.persistence.fencing import Fence
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

Result = Accepted | Rejected
UNAVAILABLE = Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)


@dataclass
class Assigner:
    rt: Runtime
    queue: WaitingQueue
    seats: Seats
    assignments: dict[str, str] = field(default_factory=dict)  # kehu id → active session
    avg_session_seconds: float = 300.0  # a moving average, for the queue's estimates
    on_stale: Callable[[], None] = lambda: None  # reload the dispatcher's state
    book: TeamBook = field(default_factory=TeamBook)  # the teams' rules
    offering: Offering = field(init=False)  # the offers out (teams in offer mode)

    def __post_init__(self) -> None:
        self.offering = Offering(self)

    # --- the queue ----------------------------------------------------------------------

    def push_positions(self, only: str | None = None) -> None:
        """``queued`` to every waiting kehu whose position or estimate changed."""
        for kehu_id, frame in self.queue.positions(self.team_capacity,
                                                   self.avg_session_seconds, only):
            self.rt.outbox.to_users([kehu_id], frame)

    def team_capacity(self, team: str | None) -> int:
        """Online seats of the agents that serve ``team`` (all agents: no team)."""
        return self.seats.online_capacity(self.book.reach(team, 0.0))

    def enqueue(self, entry: QueueEntry) -> Result:
        try:
            self.queue.put(self.rt.store, entry, self.fence)
        except REDIS_ERRORS:
            return UNAVAILABLE
        return Accepted()

    def serve(self, kehu_id: str, name: str, priority: Priority, note: str | None,
              team: str | None = None) -> Result:
        """A kehu asks for service (through ``team``, or any agent): straight to an agent
        with room when nobody waits (no queue entry written), else into the queue and as
        many waiting kehu as there are seats are assigned."""
        if not self.queue.entries and kehu_id not in self.assignments \
                and not self.offers_for(team):
            slot, why = self.pick(team, 0.0)
            if slot is not None:
                result = self.open(kehu_id, name, slot, routing=why)
                self.push_positions()
                return result
        result = self.enqueue(QueueEntry(kehu_id=kehu_id, kehu_name=name, priority=priority,
                                         waiting_since=now(), note=note, team=team))
        if isinstance(result, Accepted):
            self.fill_seats()
        return result

    def offers_for(self, team: str | None) -> bool:
        """Is ``team`` in offer mode (its customers are offered, not assigned)?"""
        rule = self.book.get(team)
        return rule is not None and rule.assignment == "offer"

    def fill_seats(self) -> None:
        """Give waiting kehu to agents with room until no waiting kehu has one in its
        reach: in queue order, each to an agent of its team (``team_rules``) — or, for a
        team in offer mode, offer it to that agent (``offering``)."""
        while self.queue.entries and self.seats.anyone_available():
            at = now()
            online = self.queue.online
            # a customer whose page is gone keeps its place, but one who is there is
            # served first (issue 15: closed pages took seats ahead of live customers)
            for entry in sorted(self.queue.ordered(), key=lambda e: e.kehu_id not in online):
                if entry.kehu_id in self.offering.out:
                    continue  # an agent is deciding
                waited = max(at - entry.waiting_since, 0.0)
                slot, why = self.pick(entry.team, waited,
                                      self.offering.excluded(entry.kehu_id))
                if slot is not None:
                    break
            else:
                break
            why = {**why, "waited_seconds": round(waited, 1)}
            if self.offers_for(entry.team):
                if not self.offering.make(entry, slot, why):
                    break
            elif isinstance(self.open(entry.kehu_id, entry.kehu_name, slot,
                                      transferred_from=entry.previous, routing=why),
                            Rejected):
                break
        self.push_positions()

    def pick(self, team: str | None, waited: float, passed: set[str] | None = None
             ) -> tuple[AgentSlot | None, dict[str, Any]]:
        """An agent with room in the reach of a customer of ``team`` who waited
        ``waited`` seconds, by the configured strategy, and why (``explain_pick``).
        Agents in ``passed`` (declined or missed an offer of it) only when nobody else
        can take it."""
        strategy = self.rt.settings.assign_strategy
        reach = self.book.reach(team, waited)
        rule = self.book.get(team)
        skills = rule.members if rule is not None else None
        slot = self.seats.pick(strategy, reach, skills, passed)
        if slot is None and passed:
            passed = None
            slot = self.seats.pick(strategy, reach, skills)
        if slot is None:
            return None, {}
        why = explain_pick(list(self.seats.agents.values()), strategy, slot, reach, skills,
                           passed)
        if rule is not None:
            why["team"] = rule.team_id
            why["overflowed"] = self.book.overflowed(team, waited)
        return slot, why

    def assign(self, msg: AssignCustomer) -> Result:
        if msg.kehu_id in self.assignments:
            return Rejected(reason=RejectReason.ALREADY_IN_SESSION)
        base = {"customer_id": msg.kehu_id, "assignment_time": iso(now()),
                "priority": msg.priority.value, "note": msg.note}
        if msg.kefu_id is not None:
            slot = self.seats.get(msg.kefu_id)
            if slot is None:
                return Rejected(reason=RejectReason.KEFU_NOT_FOUND)
            if not slot.has_room and not msg.force:
                return Rejected(reason=RejectReason.KEFU_FULL)
            waiting = self.queue.entries.get(msg.kehu_id)
            result = self.open(msg.kehu_id, msg.kehu_name, slot, force=msg.force,
                               transferred_from=waiting.previous if waiting else "",
                               routing=explain_choice("admin", slot.kefu_id,
                                                      forced=msg.force,
                                                      load=slot.load,
                                                      max_sessions=slot.max_sessions))
            self.push_positions()
            if isinstance(result, Rejected):
                return result
            return Accepted(data={**base, "assigned_kefu_id": slot.kefu_id,
                                  "session_id": result.data["session_id"], "status": "assigned"})
        result = self.serve(msg.kehu_id, msg.kehu_name, msg.priority, msg.note)
        if isinstance(result, Rejected):
            return result
        sid = self.assignments.get(msg.kehu_id)
        if sid is not None:
            return Accepted(data={**base, "assigned_kefu_id": sid.split(":")[1],
                                  "session_id": sid, "status": "assigned"})
        order = [e.kehu_id for e in self.queue.ordered()]
        return Accepted(data={**base, "assigned_kefu_id": None, "session_id": None,
                              "status": "queued", "position": order.index(msg.kehu_id) + 1})

    def switch(self, kefu_id: str, customer_id: str) -> Result:
        slot = self.seats.get(kefu_id)
        if slot is None:
            return Rejected(reason=RejectReason.KEFU_NOT_FOUND)
        sid = self.assignments.get(customer_id)
        entry = self.queue.entries.get(customer_id)
        if sid is None and entry is not None:
            if not slot.has_room:
                return Rejected(reason=RejectReason.KEFU_FULL)
            result = self.open(entry.kehu_id, entry.kehu_name, slot,
                               transferred_from=entry.previous,
                               routing=explain_choice("agent", slot.kefu_id, slot.kefu_id,
                                                      team=entry.team))
            self.push_positions()
            if isinstance(result, Rejected):
                return result
            sid = result.data["session_id"]
        if sid is None or sid.split(":")[1] != slot.kefu_id:
            return Rejected(reason=RejectReason.CUSTOMER_NOT_FOUND)
        self.rt.agent(slot.kefu_id).tell(FocusCustomer(customer_id=customer_id))
        return Accepted(data={"kefu_id": slot.kefu_id, "customer_id": customer_id,
                              "session_id": sid, "switch_time": iso(now()),
                              "status": "success"})

    # --- opening and closing ------------------------------------------------------------

    def summary(self, sid: str, kehu_name: str, slot: AgentSlot,
                transferred_from: str | None) -> dict[str, Any]:
        return {"session_id": sid, "kefu_id": slot.kefu_id, "kefu_name": slot.name,
                "kehu_id": sid.split(":")[0], "kehu_name": kehu_name,
                "status": SessionStatus.ACTIVE.value, "transferred_from": transferred_from}

    def open(self, kehu_id: str, kehu_name: str, slot: AgentSlot, transferred_from: str = "",
             closing: dispatch.Command | None = None, force: bool = False,
             routing: dict[str, Any] | None = None, offer_id: str = "") -> Result:
        """Open ``kehu:kefu`` (moving the kehu's waiting messages into it); for a
        transfer, after the close of the old session (``closing``) in the same script.
        ``transferred_from``: the kehu's previous session (a transfer's, or the one it
        was requeued from: its history follows it).
        ``force``: an admin's assignment past the kefu's capacity; ``routing``: why this
        agent (stored with the session); ``offer_id``: the offer ``slot`` accepted (the
        script refuses if it is no longer out to it). Any offer of the kehu ends here."""
        sid = session_id(kehu_id, slot.kefu_id)
        t = now()
        why = orjson.dumps({**(routing or {}), "at": iso(t)}) if routing else b""
        opening = dispatch.open_session_command(
            self.rt.store, sid, kehu_id, slot.kefu_id, t, transferred_from, kehu_name,
            slot.name, self.rt.settings.dedup_ttl_seconds, force, why, offer_id)
        try:
            opened = (dispatch.transfer_session(self.rt.store, closing, opening, self.fence)
                      if closing is not None
                      else dispatch.open_session(self.rt.store, opening, self.fence))
        except REDIS_ERRORS:
            return UNAVAILABLE
        if isinstance(opened, Refused):
            return self.stale(opened)
        if closing is not None:  # the transfer's old session is closed: let it go
            self.released(transferred_from, opened.closed_generation)
        self.count_assignment(kehu_id, routing, closing is not None, t)
        self.queue.taken(kehu_id)
        self.offering.forget(kehu_id, "accepted" if offer_id else "withdrawn")
        self.assignments[kehu_id] = sid
        slot.active.add(sid)
        slot.last_assigned_at = t
        self.rt.session(sid).tell(SessionChanged(generation=opened.generation))
        self.rt.agent(slot.kefu_id).tell(CustomerAssigned(kehu_id=kehu_id, session_id=sid))
        summary = self.summary(sid, kehu_name, slot, transferred_from or None)
        if closing is None:  # (a transfer's frames are the caller's)
            self.rt.outbox.to_users([kehu_id, slot.kefu_id], protocol.assigned(
                summary, {"id": slot.kefu_id, "name": slot.name},
                {"id": kehu_id, "name": kehu_name}))
        for raw in opened.moved:
            seq = orjson.loads(raw)["seq"]
            self.rt.outbox.message([kehu_id, slot.kefu_id], sid, seq,
                                   protocol.message(raw.encode()))
        return Accepted(data=summary)

    def count_assignment(self, kehu_id: str, routing: dict[str, Any] | None, transfer: bool,
                         at: float) -> None:
        """Metrics of an opened session (before its queue entry goes): how the agent was
        chosen, and how long the customer waited (0: an agent had room at once; none for a
        transfer, or an admin's assignment of a customer who had not asked)."""
        entry = self.queue.entries.get(kehu_id)
        team = entry.team if entry is not None else (routing or {}).get("team")
        label = team if isinstance(team, str) and self.book.get(team) is not None else "none"
        if entry is not None:
            waited: float | None = at - entry.waiting_since
        elif not transfer and (routing or {}).get("by") == "strategy":
            waited = 0.0
        else:
            waited = None
        metrics.assigned(routing, transfer, label, waited)

    @property
    def fence(self) -> Fence:
        """The dispatcher's fencing token (cluster mode; unfenced otherwise)."""
        return self.rt.fence("dispatcher", "main")

    def stale(self, refused: Refused) -> Rejected:
        """A script refused: this dispatcher's memory was stale (another dispatcher, or a
        paused or restarted one, changed Redis). Reload everything from Redis; refuse.
        Fenced: this node lost the dispatcher's lease — it gives the shard up (the new
        owner's dispatcher loads from Redis) and the caller retries."""
        if refused.reason == "fenced":
            self.rt.event("warning", "dispatcher:main", "fenced", node=self.rt.node)
            self.rt.fenced("dispatcher", "main")
            return UNAVAILABLE
        self.rt.event("warning", "dispatcher:main", "stale_state", reason=refused.reason,
                      detail=refused.detail)
        self.on_stale()
        known = refused.reason in RejectReason.__members__.values()
        return Rejected(reason=RejectReason(refused.reason) if known
                        else RejectReason.STORAGE_UNAVAILABLE)

    def released(self, sid: str, generation: int) -> None:
        """Memory and tells once ``sid`` was closed in Redis."""
        kehu_id, kefu_id = sid.split(":")
        if self.assignments.get(kehu_id) == sid:
            del self.assignments[kehu_id]
        self.seats.released(sid)
        self.rt.session(sid).tell(SessionChanged(generation=generation))
        self.rt.agent(kefu_id).tell(CustomerReleased(kehu_id=kehu_id, session_id=sid))

    def close(self, sid: str, closing: dispatch.Command) -> Rejected | int:
        """Run the close script ``closing`` of ``sid`` and let the session go → its new
        generation, or the refusal (nothing changed)."""
        try:
            generation = dispatch.close_session(self.rt.store, closing, self.fence)
        except REDIS_ERRORS:
            return UNAVAILABLE
        if isinstance(generation, Refused):
            return self.stale(generation)
        self.released(sid, generation)
        return generation

    def meta(self, sid: str) -> dict[str, str]:
        try:
            return dispatch.session_meta(self.rt.store, sid)
        except REDIS_ERRORS:
            return {}

    def end(self, sid: str, reason: str, by: str | None) -> Result:
        kehu_id, _kefu_id = sid.split(":")
        if self.assignments.get(kehu_id) != sid:
            return Rejected(reason=RejectReason.SESSION_NOT_ACTIVE)
        closing = dispatch.close_session_command(self.rt.store, sid,
                                                 SessionStatus.COMPLETED.value, now(), reason)
        if isinstance(closed := self.close(sid, closing), Rejected):
            return closed
        meta = self.meta(sid)
        ended = float(meta.get("ended_at", now()))
        run = ended - float(meta.get("opened_at", ended))
        self.avg_session_seconds = 0.9 * self.avg_session_seconds + 0.1 * max(run, 1.0)
        self.rt.outbox.to_users(list(sid.split(":")), protocol.session_ended(
            sid, reason, by, iso(ended)))
        self.fill_seats()
        return Accepted(data={"session_id": sid, "ended_at": iso(ended),
                              "duration_seconds": int(ended - float(meta.get("created_at",
                                                                           ended))),
                              "message_count": int(meta.get("message_count", 0))})

    def transfer(self, sid: str, to_kefu_id: str, by: str, reason: str | None,
                 note: str | None) -> Result:
        kehu_id, from_kefu = sid.split(":")
        if self.assignments.get(kehu_id) != sid:
            return Rejected(reason=RejectReason.SESSION_NOT_ACTIVE)
        target = self.seats.get(to_kefu_id)
        if target is None:
            return Rejected(reason=RejectReason.KEFU_NOT_FOUND)
        if target.kefu_id == from_kefu:
            return Rejected(reason=RejectReason.TRANSFER_SAME_KEFU)
        if not target.available:
            return Rejected(reason=RejectReason.KEFU_UNAVAILABLE)
        new_sid = session_id(kehu_id, target.kefu_id)
        closing = dispatch.close_session_command(
            self.rt.store, sid, SessionStatus.TRANSFERRED.value, now(), "transferred",
            transferred_to=new_sid)
        kehu_name = self.meta(sid).get("kehu_name") or kehu_id
        result = self.open(kehu_id, kehu_name, target, transferred_from=sid, closing=closing,
                           routing=explain_choice("transfer", target.kefu_id, by,
                                                  from_kefu_id=from_kefu, reason=reason,
                                                  load=target.load,
                                                  max_sessions=target.max_sessions))
        if isinstance(result, Rejected):
            return result
        data = {"session_id": sid, "from_kefu_id": from_kefu, "to_kefu_id": target.kefu_id,
                "transfer_time": iso(now()), "reason": reason, "note": note,
                "new_session_id": new_sid}
        self.rt.outbox.to_users([kehu_id, from_kefu, target.kefu_id], protocol.transferred(
            by, result.data, **data))
        self.fill_seats()
        return Accepted(data=data)
