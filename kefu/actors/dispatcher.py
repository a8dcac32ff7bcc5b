"""The dispatcher actor: the waiting queue, the agents' capacity, and the single writer
of "who serves whom" (assign, transfer, end, requeue), so double assignment cannot happen.

Every change is written to Redis (one Lua script or one MULTI) before memory changes and
before any reply or frame leaves; a Redis error leaves state untouched and answers 503.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import orjson

from kefu.actors.base import SupervisedActor
from kefu.actors.dispatcher_maintenance import MaintenanceOps
from kefu.actors.dispatcher_ops import DispatcherOps
from kefu.actors.messages import (
    Accepted,
    AgentFigures,
    AgentPresence,
    AssignCustomer,
    CustomerMessage,
    CustomerPresence,
    EndSession,
    GetDispatcherState,
    GetWaiting,
    PostMessage,
    RegisterAgent,
    Rejected,
    RequestService,
    SetAgentStatus,
    SetMaintenance,
    SwitchCustomer,
    Tick,
    TransferSession,
    UnregisterAgent,
)
from kefu.actors.routing import AgentSlot, QueueEntry, RoundRobin, queue_order
from kefu.actors.runtime import frame
from kefu.domain import AgentStatus, Priority, UserType, iso, now, split_session_id
from kefu.persistence.redis import REDIS_ERRORS, OutcomeUnknown
from kefu.persistence.writer import ack_frame

log = logging.getLogger(__name__)


class Dispatcher(DispatcherOps, MaintenanceOps, SupervisedActor):
    """One per server."""

    def load(self) -> None:
        r, k = self.rt.store.client, self.rt.store.keys
        self.queue = {}
        for kehu_id, raw in r.hgetall(k.queue).items():
            data = orjson.loads(raw)
            self.queue[kehu_id] = QueueEntry(
                kehu_id=kehu_id, kehu_name=data.get("name", kehu_id),
                priority=Priority(data.get("priority", "normal")),
                waiting_since=float(data.get("since", 0)), note=data.get("note"),
                front=bool(data.get("front")))
        self.assignments = dict(r.hgetall(k.assignments))
        figures = r.hgetall(k.agent_figures)
        started = now()
        # connections are the IOLoop's truth: a restarted dispatcher reads them back
        counts = self.rt.outbox.connection_counts()
        self.agents = {}
        for user in self.rt.users.all_of_type(UserType.KEFU):
            live = counts.get(user.id, 0)
            slot = AgentSlot(kefu_id=user.id, name=user.name, max_sessions=user.max_sessions,
                             status=user.status, connections=live,
                             disconnected_at=None if live else started)
            if user.id in figures:
                f = orjson.loads(figures[user.id])
                slot.resp_total, slot.resp_count = f["rt"], f["rc"]
                slot.sat_total, slot.sat_count = f["st"], f["sc"]
            self.agents[user.id] = slot
        for sid in self.assignments.values():
            pair = split_session_id(sid)
            if pair and pair[1] in self.agents:
                self.agents[pair[1]].active.add(sid)
        for sid in self.assignments.values():
            self.rt.session(sid).ensure_started()
        self.online_kehu: set[str] = {u for u, n in counts.items() if n and u not in self.agents}
        self.rr = RoundRobin()
        self.sent_positions = {}
        self.positions_dirty = True
        self.avg_session_seconds = 300.0
        self.load_maintenance()

    def handle_message(self, msg: Any) -> Any:  # noqa: PLR0911
        match msg:
            case CustomerMessage():
                return self._handle_customer_message(msg)
            case RequestService():
                return self._handle_request_service(msg)
            case AgentPresence():
                return self._handle_agent_presence(msg)
            case CustomerPresence():
                return self._handle_customer_presence(msg)
            case SetAgentStatus():
                return self._handle_set_status(msg)
            case RegisterAgent():
                return self._handle_register(msg)
            case UnregisterAgent():
                return self._handle_unregister(msg)
            case AssignCustomer():
                return self._handle_assign(msg)
            case TransferSession():
                return self._handle_transfer(msg)
            case EndSession():
                return self._handle_end(msg)
            case SwitchCustomer():
                return self._handle_switch(msg)
            case GetWaiting():
                return self._handle_get_waiting()
            case GetDispatcherState():
                return self._handle_state()
            case AgentFigures():
                return self._handle_figures(msg)
            case Tick():
                return self._handle_tick(msg)
            case SetMaintenance():
                return self._handle_maintenance(msg)
        log.warning("dispatcher: unknown message %r", type(msg).__name__)
        return Rejected(status=400, reason="bad_request")

    # --- customers ------------------------------------------------------------------

    def _handle_customer_message(self, msg: CustomerMessage) -> Any:
        sid = self.assignments.get(msg.kehu_id)
        if sid is None and msg.client_msg_id is not None:
            # a resend of a message stored earlier: the same ack, and nothing else happens
            try:
                existing = self.rt.store.client.get(
                    self.rt.store.keys.dedup(msg.kehu_id, msg.client_msg_id))
            except REDIS_ERRORS:
                self.error_frame(msg.conn_id, "storage_unavailable", msg.client_msg_id)
                return Rejected(status=503, reason="storage_unavailable")
            if existing is not None:
                self.rt.outbox.to_conn(msg.conn_id, ack_frame(msg.client_msg_id,
                                                              existing.encode()))
                return Accepted()
        if sid is None and msg.kehu_id not in self.queue:
            if self.maintenance.enabled:
                return self.refuse_new_kehu(msg.conn_id, msg.client_msg_id)
            # a first message implies request_service: assign now if an agent has room
            result = self.enqueue(msg.kehu_id, msg.kehu_name, Priority.NORMAL, None)
            if isinstance(result, Rejected):
                self.error_frame(msg.conn_id, result.reason, msg.client_msg_id)
                return result
            self.try_assign()
            sid = self.assignments.get(msg.kehu_id)
        if sid is not None:
            self.rt.session(sid).tell(PostMessage(
                sender_id=msg.kehu_id, conn_id=msg.conn_id, client_msg_id=msg.client_msg_id,
                content=msg.content, content_type=msg.content_type, url=msg.url,
                route_seq=msg.route_seq))
            # after the tell: the loop may now send this kehu's next messages straight
            # to the session, behind this one in its mailbox
            self.rt.outbox.route(msg.kehu_id, sid, msg.route_seq)
            return Accepted()
        try:
            stored = self.store_waiting_message(msg)
        except OutcomeUnknown:
            self.error_frame(msg.conn_id, "outcome_unknown", msg.client_msg_id)
            return Rejected(status=503, reason="outcome_unknown")
        except REDIS_ERRORS:
            self.error_frame(msg.conn_id, "storage_unavailable", msg.client_msg_id)
            return Rejected(status=503, reason="storage_unavailable")
        self.rt.outbox.to_conn(msg.conn_id, stored)
        return Accepted()

    def _handle_request_service(self, msg: RequestService) -> Any:
        if msg.kehu_id in self.assignments:
            self.error_frame(msg.conn_id, "already_in_session", None)
            return Rejected(status=409, reason="already_in_session")
        if self.maintenance.enabled and msg.kehu_id not in self.queue:
            return self.refuse_new_kehu(msg.conn_id, None)
        result = self.enqueue(msg.kehu_id, msg.kehu_name, msg.priority, msg.note)
        if isinstance(result, Rejected):
            self.error_frame(msg.conn_id, result.reason, None)
            return result
        self.try_assign()
        return Accepted(data={"session_id": self.assignments.get(msg.kehu_id)})

    def _handle_customer_presence(self, msg: CustomerPresence) -> Any:
        if msg.online:
            self.online_kehu.add(msg.kehu_id)
            if msg.kehu_id in self.queue:  # a waiting kehu (re)connects: tell it where it is
                self.sent_positions.pop(msg.kehu_id, None)
                self.push_positions(only=msg.kehu_id)
        else:
            self.online_kehu.discard(msg.kehu_id)
        sid = self.assignments.get(msg.kehu_id)
        if sid is not None:
            kefu_id = sid.split(":")[1]
            status = "online" if msg.online else "offline"
            self.rt.outbox.to_users([kefu_id], frame("presence", user_id=msg.kehu_id,
                                                     status=status))
        return Accepted()

    # --- agents ---------------------------------------------------------------------

    def _handle_register(self, msg: RegisterAgent) -> Any:
        slot = self.agents.get(msg.kefu_id)
        if slot is None:
            self.agents[msg.kefu_id] = AgentSlot(kefu_id=msg.kefu_id, name=msg.name,
                                                 max_sessions=msg.max_sessions)
        else:
            slot.name, slot.max_sessions = msg.name, msg.max_sessions
            self.try_assign()
        return Accepted()

    def _handle_unregister(self, msg: UnregisterAgent) -> Any:
        slot = self.agents.get(msg.kefu_id)
        if slot is None:
            return Accepted(data={"kefu_id": msg.kefu_id, "registered": False})
        if slot.active:
            return Rejected(status=409, reason="kefu_has_sessions",
                            params={"count": len(slot.active)})
        try:
            self.rt.store.client.hdel(self.rt.store.keys.agent_figures, slot.kefu_id)
        except REDIS_ERRORS:
            return Rejected(status=503, reason="storage_unavailable")
        del self.agents[slot.kefu_id]
        self.positions_dirty = True  # online capacity may have changed: new estimates
        return Accepted(data={"kefu_id": msg.kefu_id, "registered": True})

    def _handle_agent_presence(self, msg: AgentPresence) -> Any:
        slot = self.agents.get(msg.kefu_id)
        if slot is None:
            return Rejected(status=404, reason="kefu_not_found")
        before = slot.effective_status
        if msg.connections > 0 and (slot.connections == 0 or msg.opened):
            slot.disconnected_at = None
            if slot.status is AgentStatus.OFFLINE:
                with contextlib.suppress(REDIS_ERRORS):
                    self.rt.users.set_fields(slot.kefu_id, status=AgentStatus.ONLINE.value)
                slot.status = AgentStatus.ONLINE
        elif msg.connections == 0 and slot.connections > 0:
            slot.disconnected_at = now()
        slot.connections = msg.connections
        if slot.effective_status is not before:
            self.broadcast_presence(slot)
        self.try_assign()
        return Accepted()

    def _handle_set_status(self, msg: SetAgentStatus) -> Any:
        slot = self.agents.get(msg.kefu_id)
        if slot is None:
            return Rejected(status=404, reason="kefu_not_found")
        try:
            self.rt.users.set_fields(slot.kefu_id, status=msg.status.value)
        except REDIS_ERRORS:
            return Rejected(status=503, reason="storage_unavailable")
        before = slot.effective_status
        slot.status = msg.status
        if slot.effective_status is not before:
            self.broadcast_presence(slot)
        self.try_assign()
        return Accepted(data={"user_id": slot.kefu_id, "status": slot.status.value,
                              "effective_status": slot.effective_status.value})

    def _handle_figures(self, msg: AgentFigures) -> Any:
        slot = self.agents.get(msg.kefu_id)
        if slot is None:
            return None
        if msg.response_seconds is not None:
            slot.resp_total += msg.response_seconds
            slot.resp_count += 1
        if msg.rating is not None:
            slot.sat_total += msg.rating
            slot.sat_count += 1
        with contextlib.suppress(REDIS_ERRORS):
            self.rt.store.client.hset(self.rt.store.keys.agent_figures, slot.kefu_id,
                                      orjson.dumps({"rt": slot.resp_total, "rc": slot.resp_count,
                                                    "st": slot.sat_total, "sc": slot.sat_count}))
        return None

    # --- reads ----------------------------------------------------------------------

    def _handle_get_waiting(self) -> Any:
        t = now()
        waiting = [
            {"customer_id": e.kehu_id, "customer_name": e.kehu_name,
             "status": "Online" if e.kehu_id in self.online_kehu else "Offline",
             "waiting_since": int(e.waiting_since),
             "waiting_duration_seconds": int(t - e.waiting_since),
             "priority": e.priority.value, "note": e.note, "position": i + 1}
            for i, e in enumerate(queue_order(list(self.queue.values())))
        ]
        return Accepted(data={"waiting_customers": waiting, "total": len(waiting)})

    def _handle_state(self) -> Any:
        return Accepted(data={
            "queue": [e.kehu_id for e in queue_order(list(self.queue.values()))],
            "assignments": dict(self.assignments),
            "agents": {k: {"status": s.status.value, "connections": s.connections,
                           "active": sorted(s.active), "max_sessions": s.max_sessions,
                           "last_assigned_at": s.last_assigned_at, "name": s.name,
                           "avg_response": s.avg_response, "satisfaction": s.satisfaction}
                       for k, s in self.agents.items()},
            "time": iso(now()),
        })

    def _handle_tick(self, msg: Tick) -> Any:
        grace = self.rt.settings.agent_grace_seconds
        for slot in list(self.agents.values()):
            if (slot.connections == 0 and slot.active and slot.disconnected_at is not None
                    and msg.now - slot.disconnected_at >= grace):
                self.requeue_agent_sessions(slot)
        self.push_positions()
        return None
