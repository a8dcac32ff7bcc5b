"""The dispatcher actor: the single writer of "who serves whom".

It is composed of parts, each owning one piece of its state on its thread: the
:class:`~kefu.actors.waiting_queue.WaitingQueue`, the agents'
:class:`~kefu.actors.seats.Seats`, the :class:`~kefu.actors.assigner.Assigner` (opening,
closing and transferring sessions) and the
:class:`~kefu.actors.maintenance_switch.MaintenanceSwitch`. This class loads them, handles
each message with one ``match`` and answers. Every change is written to Redis (one script
or one MULTI) before memory changes and before any reply or frame leaves; a Redis error
leaves state untouched and answers ``storage_unavailable``.
"""

from __future__ import annotations

import logging
from typing import Any

from kefu import metrics, protocol
from kefu.actors import queue_moves
from kefu.actors.assigner import Assigner
from kefu.actors.base import SupervisedActor
from kefu.actors.delivery import redeliver
from kefu.actors.live_views import LiveViews
from kefu.actors.maintenance_switch import MaintenanceSwitch
from kefu.actors.messages import (
    Accepted,
    ActorMessage,
    AgentFiguresAdded,
    AgentPresence,
    AnswerOffer,
    AssignCustomer,
    CustomerMessage,
    CustomerPresence,
    EndSession,
    GetDispatcherState,
    GetWaiting,
    MessageLeft,
    PostMessage,
    RegisterAgent,
    Rejected,
    RequestService,
    SetAgentStatus,
    SetMaintenance,
    SwitchCustomer,
    TeamsChanged,
    Tick,
    TransferSession,
    UnregisterAgent,
    WatcherPresence,
)
from kefu.actors.node_presence import NodePresence
from kefu.actors.routing import AgentSlot
from kefu.actors.seats import Seats
from kefu.actors.team_rules import TeamBook
from kefu.actors.waiting_queue import WaitingQueue
from kefu.domain import AgentStatus, Priority, UserType, iso, now, split_session_id
from kefu.persistence import dispatch
from kefu.persistence import maintenance as maintenance_store
from kefu.persistence import teams as teams_store
from kefu.persistence.fencing import Fenced
from kefu.persistence.redis import REDIS_ERRORS, OutcomeUnknown
from kefu.protocol import RejectReason

log = logging.getLogger(__name__)
NODES_CHECK_SECONDS = 2.0


class Dispatcher(SupervisedActor):
    """One per server."""

    def load(self) -> None:
        rt = self.rt
        snap = dispatch.load_snapshot(rt.store)
        # connections are the edges' truth: a restarted dispatcher reads them back (in
        # cluster mode every node's, from Redis)
        self.presence = NodePresence.from_snapshot(rt.outbox.presence())
        self.nodes_checked = now()
        counts = self.presence.totals()
        self.seats = Seats.from_snapshot(rt.users.all_of_type(UserType.KEFU), snap.figures,
                                         counts, snap.assignments, now())
        online = {u for u, n in counts.items() if n and u not in self.seats}
        self.queue = WaitingQueue.from_snapshot(snap.queue, online,
                                                rt.settings.priority_head_start_seconds)
        for kehu_id, first in dispatch.first_waiting_messages(rt.store,
                                                              list(self.queue.entries)).items():
            self.queue.wrote(kehu_id, first)
        self.desk = Assigner(rt, self.queue, self.seats, dict(snap.assignments),
                             on_stale=self.load,
                             book=TeamBook.from_views(teams_store.all_teams(rt.store)))
        watchers = self.live.watchers if hasattr(self, "live") else set()  # (a reload)
        self.live = LiveViews(rt, self.desk, watchers=watchers)
        self.maintenance = MaintenanceSwitch(maintenance_store.load(rt.store))
        self.desk.offering.restore(snap.offers)
        for sid in snap.assignments.values():
            rt.session(sid).ensure_started()

    def handle_message(self, msg: ActorMessage) -> Any:
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
                return self.desk.assign(msg)
            case TransferSession():
                if split_session_id(msg.session_id) is None:
                    return Rejected(reason=RejectReason.SESSION_NOT_ACTIVE)
                if msg.to_team is not None:
                    return queue_moves.transfer_to_team(self.desk, msg.session_id,
                                                        msg.to_team, msg.by_user, msg.reason,
                                                        msg.note)
                if msg.to_kefu_id is None:
                    return Rejected(reason=RejectReason.BAD_REQUEST)
                return self.desk.transfer(msg.session_id, msg.to_kefu_id, msg.by_user,
                                          msg.reason, msg.note)
            case TeamsChanged():
                return self._handle_teams_changed()
            case MessageLeft():
                return queue_moves.left_a_message(self.desk, msg.kehu_id, msg.left)
            case WatcherPresence():
                self.live.watcher(msg.user_id, self.presence.set(
                    msg.user_id, msg.node, 1 if msg.online else 0) > 0)
                return Accepted()
            case AnswerOffer():
                result = self.desk.offering.answer(msg.kefu_id, msg.offer_id, msg.accept)
                if isinstance(result, Rejected):
                    return self._refused(msg.conn_id, result, msg.offer_id)
                return result
            case EndSession():
                if split_session_id(msg.session_id) is None:
                    return Rejected(reason=RejectReason.SESSION_NOT_ACTIVE)
                return self.desk.end(msg.session_id, msg.reason, msg.by_user)
            case SwitchCustomer():
                return self.desk.switch(msg.kefu_id, msg.customer_id)
            case GetWaiting():
                return Accepted(data=self.queue.waiting_view(now()))
            case GetDispatcherState():
                return Accepted(data={"queue": [e.kehu_id for e in self.queue.ordered()],
                                      "assignments": dict(self.desk.assignments),
                                      "agents": self.seats.state_view(),
                                      "offers": self.desk.offering.view(),
                                      "time": iso(now())})
            case AgentFiguresAdded():
                return self._handle_figures(msg)
            case Tick():
                return self._handle_tick(msg)
            case SetMaintenance():
                return self.maintenance.set(self.rt, msg)
        log.warning("dispatcher: unknown message %r", type(msg).__name__)
        return Rejected(reason=RejectReason.BAD_REQUEST)

    def _refused(self, conn_id: int | None, result: Rejected, ref: str | None) -> Rejected:
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, protocol.error(result.reason, ref))
        return result

    # --- customers ------------------------------------------------------------------

    def _handle_customer_message(self, msg: CustomerMessage) -> Any:
        desk, cmid = self.desk, msg.client_msg_id
        sid = desk.assignments.get(msg.kehu_id)
        if sid is None and cmid is not None:
            # a resend of a message stored earlier: the same ack, and nothing else happens
            try:
                existing = self.rt.store.client.get(self.rt.store.keys.dedup(msg.kehu_id, cmid))
            except REDIS_ERRORS:
                return self._refused(msg.conn_id, Rejected(
                    reason=RejectReason.STORAGE_UNAVAILABLE), cmid)
            if existing is not None:
                redeliver(self.rt.outbox, msg.conn_id, cmid, existing.encode())
                return Accepted()
        if sid is None and msg.kehu_id not in self.queue:
            if self.maintenance.on:
                return self.maintenance.refuse(self.rt, msg.conn_id, cmid)
            # a first message implies request_service: assigned now if an agent has room
            result = desk.serve(msg.kehu_id, msg.kehu_name, Priority.NORMAL, None)
            if isinstance(result, Rejected):
                return self._refused(msg.conn_id, result, cmid)
            sid = desk.assignments.get(msg.kehu_id)
        if sid is not None:
            self.rt.session(sid).tell(PostMessage(
                sender_id=msg.kehu_id, conn_id=msg.conn_id, client_msg_id=cmid,
                content=msg.content, content_type=msg.content_type, url=msg.url,
                route_seq=msg.route_seq))
            # after the tell: the loop may now send this kehu's next messages straight
            # to the session, behind this one in its mailbox
            self.rt.outbox.route(msg.kehu_id, sid, msg.route_seq, msg.conn_id)
            return Accepted()
        try:
            stored = dispatch.store_waiting_message(
                self.rt.store, msg.kehu_id, cmid, msg.content, msg.content_type, msg.url,
                self.rt.settings.dedup_ttl_seconds, self.desk.fence)
        except OutcomeUnknown:
            return self._refused(msg.conn_id, Rejected(reason=RejectReason.OUTCOME_UNKNOWN),
                                 cmid)
        except Fenced:
            self.rt.fenced("dispatcher", "main")
            return self._refused(msg.conn_id, Rejected(
                reason=RejectReason.STORAGE_UNAVAILABLE), cmid)
        except REDIS_ERRORS:
            return self._refused(msg.conn_id, Rejected(
                reason=RejectReason.STORAGE_UNAVAILABLE), cmid)
        self.rt.outbox.to_conn(msg.conn_id, protocol.ack(cmid, stored))
        self.queue.wrote(msg.kehu_id, msg.content)
        return Accepted()

    def _handle_request_service(self, msg: RequestService) -> Any:
        if msg.kehu_id in self.desk.assignments:
            return self._refused(msg.conn_id, Rejected(
                reason=RejectReason.ALREADY_IN_SESSION), None)
        if self.maintenance.on and msg.kehu_id not in self.queue:
            return self.maintenance.refuse(self.rt, msg.conn_id, None)
        book, at = self.desk.book, now()
        if msg.team is not None and book.get(msg.team) is None:
            return self._refused(msg.conn_id, Rejected(reason=RejectReason.TEAM_NOT_FOUND),
                                 None)
        if book.closed(msg.team, at) and msg.kehu_id not in self.queue:
            rule = book.get(msg.team)
            opens = rule.hours.next_open(at) if rule and rule.hours else None
            self.rt.outbox.to_users([msg.kehu_id], protocol.leave_message(
                msg.team, "outside_hours", False, iso(opens) if opens else None))
            return Accepted(data={"session_id": None, "closed": True})
        result = self.desk.serve(msg.kehu_id, msg.kehu_name, msg.priority, msg.note,
                                 msg.team)
        if isinstance(result, Rejected):
            return self._refused(msg.conn_id, result, None)
        entry = self.queue.entries.get(msg.kehu_id)
        if entry is not None and self.seats.online_capacity(book.reach(entry.team, 0.0)) == 0:
            self.rt.outbox.to_users([msg.kehu_id], protocol.leave_message(
                entry.team, "nobody_online", True))
        return Accepted(data={"session_id": self.desk.assignments.get(msg.kehu_id)})

    def _handle_customer_presence(self, msg: CustomerPresence) -> Any:
        was_online = self.presence.total(msg.kehu_id) > 0
        online = self.presence.set(msg.kehu_id, msg.node, 1 if msg.online else 0) > 0
        if online == was_online:
            return Accepted()  # another node still has (or already had) a socket of it
        return self._customer_online(msg.kehu_id, online)

    def _customer_online(self, kehu_id: str, online: bool) -> Any:
        if online:
            self.queue.online.add(kehu_id)
            if kehu_id in self.queue:  # a waiting kehu (re)connects: where it is
                self.desk.push_positions(only=kehu_id)
        else:
            self.queue.online.discard(kehu_id)
        sid = self.desk.assignments.get(kehu_id)
        if sid is not None:
            self.rt.outbox.to_users([sid.split(":")[1]], protocol.presence(
                kehu_id, "online" if online else "offline"))
        return Accepted()

    # --- agents ---------------------------------------------------------------------

    def _broadcast_presence(self, slot: AgentSlot) -> None:
        users = [slot.kefu_id] + [sid.split(":")[0] for sid in slot.active]
        self.rt.outbox.to_users(users, protocol.presence(slot.kefu_id,
                                                         slot.effective_status.value))

    def _handle_register(self, msg: RegisterAgent) -> Any:
        slot = self.seats.get(msg.kefu_id)
        if slot is None:
            self.seats.agents[msg.kefu_id] = AgentSlot(kefu_id=msg.kefu_id, name=msg.name,
                                                       max_sessions=msg.max_sessions)
        else:
            slot.name, slot.max_sessions = msg.name, msg.max_sessions
            self.desk.fill_seats()
        return Accepted()

    def _handle_unregister(self, msg: UnregisterAgent) -> Any:
        slot = self.seats.get(msg.kefu_id)
        if slot is None:
            return Accepted(data={"kefu_id": msg.kefu_id, "registered": False})
        if slot.active:
            return Rejected(reason=RejectReason.KEFU_HAS_SESSIONS,
                            params={"count": len(slot.active)})
        self.desk.offering.withdraw_agent(slot.kefu_id)
        try:
            dispatch.forget_figures(self.rt.store, slot.kefu_id)
        except REDIS_ERRORS:
            return Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
        del self.seats.agents[slot.kefu_id]
        self.queue.dirty = True  # online capacity may have changed: new estimates
        return Accepted(data={"kefu_id": msg.kefu_id, "registered": True})

    def _handle_agent_presence(self, msg: AgentPresence) -> Any:
        slot = self.seats.get(msg.kefu_id)
        if slot is None:
            return Rejected(reason=RejectReason.KEFU_NOT_FOUND)
        return self._agent_connections(slot, self.presence.set(msg.kefu_id, msg.node,
                                                               msg.connections), msg.opened)

    def _agent_connections(self, slot: AgentSlot, connections: int, opened: bool) -> Any:
        before = slot.effective_status
        if connections > 0 and (slot.connections == 0 or opened):
            slot.disconnected_at = None
            if slot.status is AgentStatus.OFFLINE:
                try:
                    self.rt.users.set_fields(slot.kefu_id, status=AgentStatus.ONLINE.value)
                except REDIS_ERRORS:
                    log.warning("%s: online status not stored (Redis away)", slot.kefu_id)
                slot.status = AgentStatus.ONLINE
        elif connections == 0 and slot.connections > 0:
            slot.disconnected_at = now()
        slot.connections = connections
        if slot.effective_status is not before:
            self._broadcast_presence(slot)
        if opened:  # a new console: its queue list and the offers it holds, at once
            self.rt.outbox.to_users([slot.kefu_id], protocol.waiting(
                self.live.waiting_for(slot.kefu_id, now())))
            self.desk.offering.resend(slot.kefu_id)
        self.desk.fill_seats()
        return Accepted()

    def _handle_set_status(self, msg: SetAgentStatus) -> Any:
        slot = self.seats.get(msg.kefu_id)
        if slot is None:
            return Rejected(reason=RejectReason.KEFU_NOT_FOUND)
        try:
            self.rt.users.set_fields(slot.kefu_id, status=msg.status.value)
        except REDIS_ERRORS:
            return Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
        before = slot.effective_status
        slot.status = msg.status
        if slot.status is not AgentStatus.ONLINE:
            self.desk.offering.withdraw_agent(slot.kefu_id)
        else:
            self.desk.offering.misses.pop(slot.kefu_id, None)
        if slot.effective_status is not before:
            self._broadcast_presence(slot)
        self.desk.fill_seats()
        return Accepted(data={"user_id": slot.kefu_id, "status": slot.status.value,
                              "effective_status": slot.effective_status.value})

    def _handle_teams_changed(self) -> Any:
        try:
            self.desk.book = TeamBook.from_views(teams_store.all_teams(self.rt.store))
        except REDIS_ERRORS:
            return Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
        self.queue.dirty = True  # reaches, positions and estimates may have changed
        self.queue.version += 1  # and what each console lists
        self.desk.fill_seats()
        return Accepted()

    def _handle_figures(self, msg: AgentFiguresAdded) -> None:
        slot = self.seats.get(msg.kefu_id)
        if slot is None:
            return
        if msg.response_seconds is not None:
            slot.resp_total += msg.response_seconds
            slot.resp_count += 1
        if msg.rating is not None:  # (Redis has them already: the scripts count them)
            slot.sat_total += msg.rating
            slot.sat_count += 1

    # --- time -----------------------------------------------------------------------

    def _forget_dead_nodes(self, at: float) -> None:
        """Cluster mode, every few seconds: the sockets of a node whose heartbeat expired
        are gone (its agents' grace periods start)."""
        if self.rt.cluster is None or at - self.nodes_checked < NODES_CHECK_SECONDS:
            return
        self.nodes_checked = at
        try:
            alive = set(self.rt.cluster.live_nodes())
        except REDIS_ERRORS:
            return
        for user in self.presence.keep_nodes(alive):
            slot = self.seats.get(user)
            if slot is not None:
                self._agent_connections(slot, self.presence.total(user), False)
            elif user in self.live.watchers:
                if self.presence.total(user) == 0:
                    self.live.watcher(user, False)
            elif self.presence.total(user) == 0:
                self._customer_online(user, False)

    def _handle_tick(self, msg: Tick) -> None:
        self._forget_dead_nodes(msg.now)
        grace = self.rt.settings.agent_grace_seconds
        for slot in list(self.seats.agents.values()):
            if (slot.connections == 0 and slot.active and slot.disconnected_at is not None
                    and msg.now - slot.disconnected_at >= grace):
                queue_moves.requeue_agent(self.desk, slot)
        queue_moves.abandon_gone(self.desk, msg.now, self.rt.settings.queue_abandon_seconds)
        self.live.note_waits(msg.now)
        self.desk.offering.expire(msg.now)
        self.desk.fill_seats()  # (after a stale refusal and reload, too) and positions
        self.live.push_waiting(msg.now)
        self.live.push_workload()
        self.live.publish_queue_length()

    def on_stop(self) -> None:
        """Stopped here (shut-down, or cluster mode: the lease went elsewhere): the queue
        gauge is no longer this node's to tell."""
        metrics.queue_gone()
