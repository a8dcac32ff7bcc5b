"""The dispatcher's state changes: queueing, assignment, transfer, end and requeue.

A mixin of :class:`kefu.actors.dispatcher.Dispatcher`; everything here runs on the
dispatcher's thread. Each operation writes Redis first (atomically), then memory, then
tells the session and agent actors and pushes frames.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import orjson

from kefu.actors.messages import (
    Accepted,
    AssignCustomer,
    CustomerAssigned,
    CustomerMessage,
    CustomerReleased,
    EndSession,
    FocusCustomer,
    Rejected,
    SessionChanged,
    SwitchCustomer,
    TransferSession,
)
from kefu.actors.routing import AgentSlot, QueueEntry, estimate_wait, pick_agent, queue_order
from kefu.actors.runtime import frame
from kefu.domain import Priority, iso, now, session_id, split_session_id
from kefu.persistence.redis import REDIS_ERRORS
from kefu.persistence.writer import ack_frame, message_frame

if TYPE_CHECKING:
    from kefu.actors.routing import RoundRobin
    from kefu.actors.runtime import Runtime


class DispatcherOps:
    rt: Runtime
    queue: dict[str, QueueEntry]
    assignments: dict[str, str]
    agents: dict[str, AgentSlot]
    sent_positions: dict[str, tuple[int, int]]
    positions_dirty: bool
    avg_session_seconds: float
    rr: RoundRobin

    # --- helpers --------------------------------------------------------------------

    def error_frame(self, conn_id: int | None, code: str, ref: str | None) -> None:
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, frame("error", code=code, message=code, ref=ref))

    def broadcast_presence(self, slot: AgentSlot) -> None:
        users = [slot.kefu_id] + [sid.split(":")[0] for sid in slot.active]
        self.rt.outbox.to_users(users, frame("presence", user_id=slot.kefu_id,
                                             status=slot.effective_status.value))

    def _summary(self, sid: str, kehu_name: str, slot: AgentSlot,
                 transferred_from: str | None) -> dict[str, Any]:
        kehu_id = sid.split(":")[0]
        return {"session_id": sid, "kefu_id": slot.kefu_id, "kefu_name": slot.name,
                "kehu_id": kehu_id, "kehu_name": kehu_name, "status": "active",
                "transferred_from": transferred_from}

    # --- queue ----------------------------------------------------------------------

    def enqueue(self, kehu_id: str, name: str, priority: Priority, note: str | None,
                front: bool = False) -> Accepted | Rejected:
        entry = self.queue.get(kehu_id)
        if entry is None:
            entry = QueueEntry(kehu_id=kehu_id, kehu_name=name, priority=priority,
                               waiting_since=now(), note=note, front=front)
        else:
            entry = QueueEntry(kehu_id=kehu_id, kehu_name=name, priority=priority,
                               waiting_since=entry.waiting_since, note=note or entry.note,
                               front=entry.front or front)
        try:
            self.rt.store.client.hset(self.rt.store.keys.queue, kehu_id, orjson.dumps(
                {"name": name, "priority": priority.value, "since": entry.waiting_since,
                 "note": entry.note, "front": entry.front}))
        except REDIS_ERRORS:
            return Rejected(status=503, reason="storage_unavailable")
        self.queue[kehu_id] = entry
        self.sent_positions.pop(kehu_id, None)
        self.positions_dirty = True
        return Accepted()

    def push_positions(self, only: str | None = None) -> None:
        """Send ``queued`` to every waiting kehu whose position or estimate changed."""
        if not self.positions_dirty and only is None:
            return
        order = queue_order(list(self.queue.values()))
        seats = sum(s.max_sessions for s in self.agents.values() if s.online)
        for pos, entry in enumerate(order, start=1):
            if only is not None and entry.kehu_id != only:
                continue
            estimate = estimate_wait(pos, seats, self.avg_session_seconds)
            if self.sent_positions.get(entry.kehu_id) == (pos, estimate):
                continue
            self.sent_positions[entry.kehu_id] = (pos, estimate)
            self.rt.outbox.to_users([entry.kehu_id], frame(
                "queued", position=pos, priority=entry.priority.value,
                estimated_wait_seconds=estimate, waiting_since=int(entry.waiting_since)))
        if only is None:
            self.positions_dirty = False

    def store_waiting_message(self, msg: CustomerMessage) -> bytes:
        """Keep a message of a kehu with no session; returns its ``ack`` frame."""
        k = self.rt.store.keys
        stored = {"id": f"msg_{uuid.uuid4().hex}", "from": msg.kehu_id, "to": None,
                  "content": msg.content, "content_type": msg.content_type,
                  "timestamp": iso(now()), "url": msg.url, "session_id": None, "seq": None,
                  "client_msg_id": msg.client_msg_id}
        raw = orjson.dumps(stored)
        status, existing = self.rt.store.call_script(
            self.rt.store.wait_append,
            keys=[k.waiting_messages(msg.kehu_id), k.dedup(msg.kehu_id, msg.client_msg_id or "-"),
                  k.message_index],
            args=[raw, stored["id"], self.rt.settings.dedup_ttl_seconds,
                  "1" if msg.client_msg_id else "0", msg.kehu_id])
        return ack_frame(msg.client_msg_id, existing.encode() if status == "dup" else raw)

    # --- assignment -----------------------------------------------------------------

    def try_assign(self) -> None:
        """Give waiting kehu to agents with room until one side runs out."""
        while self.queue:
            slot = pick_agent(list(self.agents.values()), self.rt.settings.assign_strategy,
                              self.rr)
            if slot is None:
                break
            entry = queue_order(list(self.queue.values()))[0]
            if isinstance(self.assign_to(entry.kehu_id, entry.kehu_name, slot), Rejected):
                break
        self.push_positions()

    def assign_to(self, kehu_id: str, kehu_name: str, slot: AgentSlot,
                  transferred_from: str = "", extra: list[tuple[str, list[Any], list[Any]]]
                  | None = None) -> Accepted | Rejected:
        """Open ``kehu:kefu`` (moving the kehu's waiting messages into it)."""
        sid = session_id(kehu_id, slot.kefu_id)
        k = self.rt.store.keys
        t = now()
        event = orjson.dumps({"event": "opened", "ts": t, "kefu_id": slot.kefu_id,
                              "transferred_from": transferred_from or None})
        keys = [k.session(sid), k.stream(sid), k.waiting_messages(kehu_id), k.queue,
                k.assignments, k.sessions, k.user_sessions(kehu_id),
                k.user_sessions(slot.kefu_id), k.message_index, k.events(sid),
                k.active_sessions(kehu_id), k.active_sessions(slot.kefu_id)]
        args = [sid, kehu_id, slot.kefu_id, t, transferred_from, f"{k.prefix}dedup:",
                self.rt.settings.dedup_ttl_seconds, event, kehu_name, slot.name]
        try:
            pipe = self.rt.store.client.pipeline(transaction=True)
            for script, s_keys, s_args in extra or []:
                getattr(self.rt.store, script)(keys=s_keys, args=s_args, client=pipe)
            self.rt.store.assign(keys=keys, args=args, client=pipe)
            moved = pipe.execute()[-1]
        except REDIS_ERRORS:
            return Rejected(status=503, reason="storage_unavailable")
        self.queue.pop(kehu_id, None)
        self.sent_positions.pop(kehu_id, None)
        self.positions_dirty = True
        self.assignments[kehu_id] = sid
        slot.active.add(sid)
        slot.last_assigned_at = t
        self.rt.session(sid).tell(SessionChanged())
        self.rt.agent(slot.kefu_id).tell(CustomerAssigned(kehu_id=kehu_id, session_id=sid))
        summary = self._summary(sid, kehu_name, slot, transferred_from or None)
        if not transferred_from:
            self.rt.outbox.to_users([kehu_id, slot.kefu_id], frame(
                "assigned", session=summary, kefu={"id": slot.kefu_id, "name": slot.name},
                kehu={"id": kehu_id, "name": kehu_name}))
        for raw in moved:
            seq = orjson.loads(raw)["seq"]
            self.rt.outbox.message([kehu_id, slot.kefu_id], sid, seq, message_frame(raw.encode()))
        return Accepted(data=summary)

    def _close_args(self, sid: str, status: str, reason: str, requeue: QueueEntry | None,
                    transferred_to: str = "") -> tuple[list[str], list[Any]]:
        k = self.rt.store.keys
        kehu_id, kefu_id = sid.split(":")
        t = now()
        event = orjson.dumps({"event": status, "ts": t, "reason": reason,
                              "transferred_to": transferred_to or None})
        entry = b""
        if requeue is not None:
            entry = orjson.dumps({"name": requeue.kehu_name, "priority": requeue.priority.value,
                                  "since": requeue.waiting_since, "note": requeue.note,
                                  "front": requeue.front})
        return ([k.session(sid), k.assignments, k.events(sid), k.queue,
                 k.active_sessions(kehu_id), k.active_sessions(kefu_id)],
                [status, t, kehu_id, event, entry, reason, transferred_to])

    def _released(self, sid: str) -> None:
        kehu_id, kefu_id = sid.split(":")
        if self.assignments.get(kehu_id) == sid:
            del self.assignments[kehu_id]
        slot = self.agents.get(kefu_id)
        if slot is not None:
            slot.active.discard(sid)
        self.rt.session(sid).tell(SessionChanged())
        self.rt.agent(kefu_id).tell(CustomerReleased(kehu_id=kehu_id, session_id=sid))

    def _meta(self, sid: str) -> dict[str, str]:
        try:
            return self.rt.store.client.hgetall(self.rt.store.keys.session(sid))
        except REDIS_ERRORS:
            return {}

    def _handle_end(self, msg: EndSession) -> Any:
        pair = split_session_id(msg.session_id)
        if pair is None or self.assignments.get(pair[0]) != msg.session_id:
            return Rejected(status=409, reason="session_not_active")
        keys, args = self._close_args(msg.session_id, "completed", msg.reason, None)
        try:
            self.rt.store.close_session(keys=keys, args=args)
        except REDIS_ERRORS:
            return Rejected(status=503, reason="storage_unavailable")
        self._released(msg.session_id)
        meta = self._meta(msg.session_id)
        ended = float(meta.get("ended_at", now()))
        duration = int(ended - float(meta.get("created_at", ended)))
        run = ended - float(meta.get("opened_at", ended))
        self.avg_session_seconds = 0.9 * self.avg_session_seconds + 0.1 * max(run, 1.0)
        self.rt.outbox.to_users(list(pair), frame(
            "session_ended", session_id=msg.session_id, reason=msg.reason, by=msg.by_user,
            ended_at=iso(ended)))
        self.try_assign()
        return Accepted(data={"session_id": msg.session_id, "ended_at": iso(ended),
                              "duration_seconds": duration,
                              "message_count": int(meta.get("message_count", 0))})

    def _handle_transfer(self, msg: TransferSession) -> Any:
        pair = split_session_id(msg.session_id)
        if pair is None or self.assignments.get(pair[0]) != msg.session_id:
            return Rejected(status=409, reason="session_not_active")
        kehu_id, from_kefu = pair
        target = self.agents.get(msg.to_kefu_id)
        if target is None:
            return Rejected(status=404, reason="kefu_not_found")
        if target.kefu_id == from_kefu:
            return Rejected(status=409, reason="transfer_same_kefu")
        if not target.available:
            return Rejected(status=409, reason="kefu_unavailable")
        new_sid = session_id(kehu_id, target.kefu_id)
        close_keys, close_args = self._close_args(msg.session_id, "transferred", "transferred",
                                                  None, transferred_to=new_sid)
        kehu_name = self._meta(msg.session_id).get("kehu_name") or kehu_id
        result = self.assign_to(kehu_id, kehu_name, target, transferred_from=msg.session_id,
                                extra=[("close_session", close_keys, close_args)])
        if isinstance(result, Rejected):
            return result
        old = self.agents.get(from_kefu)
        if old is not None:
            old.active.discard(msg.session_id)
        self.rt.session(msg.session_id).tell(SessionChanged())
        self.rt.agent(from_kefu).tell(CustomerReleased(kehu_id=kehu_id,
                                                       session_id=msg.session_id))
        t = iso(now())
        data = {"session_id": msg.session_id, "from_kefu_id": from_kefu,
                "to_kefu_id": target.kefu_id, "transfer_time": t, "reason": msg.reason,
                "note": msg.note, "new_session_id": new_sid}
        self.rt.outbox.to_users([kehu_id, from_kefu, target.kefu_id], frame(
            "transferred", **data, by=msg.by_user, session=result.data))
        self.try_assign()
        return Accepted(data=data)

    def _handle_assign(self, msg: AssignCustomer) -> Any:
        if msg.kehu_id in self.assignments:
            return Rejected(status=409, reason="already_in_session")
        t = iso(now())
        base = {"customer_id": msg.kehu_id, "assignment_time": t,
                "priority": msg.priority.value, "note": msg.note}
        if msg.kefu_id is not None:
            slot = self.agents.get(msg.kefu_id)
            if slot is None:
                return Rejected(status=404, reason="kefu_not_found")
            if not slot.has_room and not msg.force:
                return Rejected(status=409, reason="kefu_full")
            result = self.assign_to(msg.kehu_id, msg.kehu_name, slot)
            self.push_positions()
            if isinstance(result, Rejected):
                return result
            return Accepted(data={**base, "assigned_kefu_id": slot.kefu_id,
                                  "session_id": result.data["session_id"], "status": "assigned"})
        queued = self.enqueue(msg.kehu_id, msg.kehu_name, msg.priority, msg.note)
        if isinstance(queued, Rejected):
            return queued
        self.try_assign()
        sid = self.assignments.get(msg.kehu_id)
        if sid is not None:
            return Accepted(data={**base, "assigned_kefu_id": sid.split(":")[1],
                                  "session_id": sid, "status": "assigned"})
        order = [e.kehu_id for e in queue_order(list(self.queue.values()))]
        return Accepted(data={**base, "assigned_kefu_id": None, "session_id": None,
                              "status": "queued", "position": order.index(msg.kehu_id) + 1})

    def _handle_switch(self, msg: SwitchCustomer) -> Any:
        slot = self.agents.get(msg.kefu_id)
        if slot is None:
            return Rejected(status=404, reason="kefu_not_found")
        sid = self.assignments.get(msg.customer_id)
        if sid is None and msg.customer_id in self.queue:
            if not slot.has_room:
                return Rejected(status=409, reason="kefu_full")
            entry = self.queue[msg.customer_id]
            result = self.assign_to(entry.kehu_id, entry.kehu_name, slot)
            self.push_positions()
            if isinstance(result, Rejected):
                return result
            sid = result.data["session_id"]
        if sid is None or sid.split(":")[1] != slot.kefu_id:
            return Rejected(status=404, reason="customer_not_found")
        self.rt.agent(slot.kefu_id).tell(FocusCustomer(customer_id=msg.customer_id))
        return Accepted(data={"kefu_id": slot.kefu_id, "customer_id": msg.customer_id,
                              "session_id": sid, "switch_time": iso(now()),
                              "status": "success"})

    def requeue_agent_sessions(self, slot: AgentSlot) -> None:
        """The agent stayed away past the grace period: its kehu go to the front."""
        for sid in sorted(slot.active):
            kehu_id = sid.split(":")[0]
            meta = self._meta(sid)
            entry = QueueEntry(kehu_id=kehu_id, kehu_name=meta.get("kehu_name") or kehu_id,
                               priority=Priority.NORMAL, waiting_since=now(), front=True)
            keys, args = self._close_args(sid, "completed", "agent_offline", entry)
            try:
                self.rt.store.close_session(keys=keys, args=args)
            except REDIS_ERRORS:
                return
            self._released(sid)
            self.queue[kehu_id] = entry
            self.positions_dirty = True
            self.rt.outbox.to_users([kehu_id, slot.kefu_id], frame(
                "session_ended", session_id=sid, reason="agent_offline", by=None,
                ended_at=iso(now())))
            self.rt.event("info", "dispatcher", "requeued", session_id=sid)
        self.try_assign()


__all__ = ["DispatcherOps", "SwitchCustomer", "TransferSession"]
