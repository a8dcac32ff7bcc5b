"""Agent views (seed 2.1, 2.2, 2.4): a kefu's customers, its workload, available agents.

Live figures (status, connections, load, capacity, response time, rating) come from the
dispatcher, which owns them (``GetDispatcherState``); session details from Redis.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from kefu.actors.messages import GetDispatcherState
from kefu.actors.routing import AgentSlot, efficiency_score
from kefu.domain import AgentStatus, User, UserType, iso
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.openapi import doc
from kefu.persistence.listings import kefu_customers, last_sent


class CustomerItem(BaseModel):
    id: str
    name: str
    status: str  # "Online" | "Offline" (live connections)
    last_message: str | None
    last_activity: str | None
    unread_count: int
    session_id: str


class CustomersOut(BaseModel):
    kefu_id: str
    customers: list[CustomerItem]
    total: int


class RawWorkload(BaseModel):
    active_sessions: int
    max_sessions: int
    utilization_rate: float
    status: str


class WorkloadItem(RawWorkload):
    kefu_id: str
    kefu_name: str
    avg_response_time: float | None
    satisfaction_score: float | None
    last_activity: str | None
    set_status: str
    connections: int


class WorkloadOut(BaseModel):
    workload: WorkloadItem
    raw_data: RawWorkload


class AvailableItem(BaseModel):
    kefu_id: str
    kefu_name: str
    current_load: int
    max_capacity: int
    efficiency_score: float
    last_activity: str | None


class AvailableOut(BaseModel):
    available_kefu: list[AvailableItem]
    total: int


def slot_of(kefu_id: str, data: dict[str, Any]) -> AgentSlot:
    """The dispatcher's published view of one agent back as an :class:`AgentSlot`, so the
    routing module's own rules (availability, utilization, efficiency) apply unchanged."""
    resp_total, resp_count, sat_total, sat_count = data["totals"]
    return AgentSlot(kefu_id=kefu_id, name=data["name"], max_sessions=data["max_sessions"],
                     status=AgentStatus(data["status"]), connections=data["connections"],
                     active=set(data["active"]), last_assigned_at=data["last_assigned_at"],
                     resp_total=resp_total, resp_count=resp_count, sat_total=sat_total,
                     sat_count=sat_count)


def workload_status(slot: AgentSlot) -> str:
    """``available`` while connected, ``online`` and with room; ``full`` when connected
    and ``online`` but at capacity; otherwise the effective status: ``away`` or ``busy``
    (set by the kefu), ``offline`` (set so, or no live connection)."""
    effective = slot.effective_status
    if effective is AgentStatus.ONLINE:
        return "available" if slot.has_room else "full"
    return effective.value


def last_activity(slot: AgentSlot, sent: dict[str, float]) -> str | None:
    """The later of the kefu's last chat message and its last assignment (ISO Z)."""
    times = [t for t in (sent.get(slot.kefu_id), slot.last_assigned_at or None) if t]
    return iso(max(times)) if times else None


class AgentViewBase(BaseHandler):
    async def agents(self) -> dict[str, AgentSlot]:
        """Every registered agent, as the dispatcher sees it now."""
        data = await self.ask(GetDispatcherState())
        return {k: slot_of(k, v) for k, v in data["agents"].items()}

    async def own_kefu(self, kefu_id: str) -> User:
        """Admin or the kefu itself (another kefu → 403, kehu → 403); 404 if no such kefu."""
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        if me.user_type is UserType.KEFU and me.id != kefu_id:
            raise ApiError(403, "forbidden")
        user = me if me.id == kefu_id else await self.state.bridge.run_io(
            self.state.users.get, kefu_id)
        if user is None or user.user_type is not UserType.KEFU:
            raise ApiError(404, "kefu_not_found")
        return user


class CustomersHandler(AgentViewBase):
    """Seed 2.1: the kefu's current customers (its active sessions), most recent activity
    first. ``unread_count`` = messages in the session after the kefu's read mark (which
    advances when the kefu reads, switches to the customer, or sends)."""

    @doc("A kefu's current customers (seed 2.1)", roles=("admin", "kefu"),
         path_params=("kefu_id",), response=CustomersOut, tag="kefu",
         description="Admin, or the kefu itself (another kefu: 403).")
    async def get(self, kefu_id: str) -> None:
        await self.own_kefu(kefu_id)
        metas = await self.state.bridge.run_io(kefu_customers, self.state.store, kefu_id)
        names = await self.state.bridge.run_io(
            self.state.users.get_many, [m.get("kehu_id", "") for m in metas])
        metas.sort(key=lambda m: (float(m.get("updated_at") or 0), m["session_id"]),
                   reverse=True)
        online = self.state.online
        customers = []
        for m in metas:
            kehu_id = m.get("kehu_id", "")
            user = names.get(kehu_id)
            customers.append({
                "id": kehu_id,
                "name": user.name if user else (m.get("kehu_name") or kehu_id),
                "status": "Online" if online.count(kehu_id) else "Offline",
                "last_message": m.get("last_message") or None,
                "last_activity": iso(float(m["updated_at"])) if m.get("updated_at") else None,
                "unread_count": max(0, int(m.get("seq") or 0) - int(m.get("read_kefu") or 0)),
                "session_id": m["session_id"],
            })
        self.ok("kefu_customers_ok", {"kefu_id": kefu_id, "customers": customers,
                                      "total": len(customers)})


class WorkloadHandler(AgentViewBase):
    """Seed 2.2. ``utilization_rate`` is a percentage of ``max_sessions`` (one decimal in
    ``workload``, unrounded in ``raw_data``). ``status`` (both places) maps the
    dispatcher's view: ``available`` (connected, online, room left), ``full`` (connected,
    online, at capacity), else ``away`` / ``busy`` / ``offline`` (offline also when no
    connection is live). ``set_status`` is what the kefu chose. ``avg_response_time``
    (seconds) and ``satisfaction_score`` (1..5) are null until there is data."""

    @doc("A kefu's workload (seed 2.2)", roles=("admin", "kefu"), path_params=("kefu_id",),
         response=WorkloadOut, tag="kefu",
         description="Admin, or the kefu itself (another kefu: 403). status: available | "
                     "full | away | busy | offline.")
    async def get(self, kefu_id: str) -> None:
        await self.own_kefu(kefu_id)
        slot = (await self.agents()).get(kefu_id)
        if slot is None:
            raise ApiError(404, "kefu_not_found")
        sent = await self.state.bridge.run_io(last_sent, self.state.store, [kefu_id])
        rate = slot.utilization * 100
        status = workload_status(slot)
        avg, sat = slot.avg_response, slot.satisfaction
        self.ok("workload_ok", {
            "workload": {
                "kefu_id": kefu_id, "kefu_name": slot.name, "active_sessions": slot.load,
                "max_sessions": slot.max_sessions, "utilization_rate": round(rate, 1),
                "status": status,
                "avg_response_time": round(avg, 1) if avg is not None else None,
                "satisfaction_score": round(sat, 2) if sat is not None else None,
                "last_activity": last_activity(slot, sent),
                "set_status": slot.status.value, "connections": slot.connections,
            },
            "raw_data": {"active_sessions": slot.load, "max_sessions": slot.max_sessions,
                         "utilization_rate": rate, "status": status},
        })


class AvailableHandler(AgentViewBase):
    """Seed 2.4: agents connected, ``online`` and with room, best ``efficiency_score``
    first (formula: :func:`kefu.actors.routing.efficiency_score`)."""

    @doc("Agents online with room, best efficiency first (seed 2.4)", roles=("admin", "kefu"),
         response=AvailableOut, tag="kefu", errors=(401, 403),
         description="efficiency_score = 2 × satisfaction (1..5; 5 without ratings) + "
                     "10 × (1 − utilization) − min(average response seconds, 300) / 60.")
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN, UserType.KEFU)
        slots = [s for s in (await self.agents()).values() if s.available]
        sent = await self.state.bridge.run_io(last_sent, self.state.store,
                                              [s.kefu_id for s in slots])
        rows = [{"kefu_id": s.kefu_id, "kefu_name": s.name, "current_load": s.load,
                 "max_capacity": s.max_sessions, "efficiency_score": efficiency_score(s),
                 "last_activity": last_activity(s, sent)} for s in slots]
        rows.sort(key=lambda r: (-r["efficiency_score"], r["current_load"], r["kefu_id"]))
        self.ok("available_kefu_ok", {"available_kefu": rows, "total": len(rows)})
