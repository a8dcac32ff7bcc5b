"""Agent assignment (seed 2.3, 2.5, 2.6): switch, waiting list, assign."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kefu.actors.messages import AssignCustomer, GetWaiting, SwitchCustomer
from kefu.domain import Priority, UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import AssignBody
from kefu.http.openapi import doc


class SwitchOut(BaseModel):
    kefu_id: str
    customer_id: str
    session_id: str
    switch_time: str
    status: Literal["success"]


class WaitingItem(BaseModel):
    customer_id: str
    customer_name: str
    status: Literal["Online", "Offline"]
    waiting_since: int = Field(description="epoch seconds")
    waiting_duration_seconds: int
    priority: Priority
    note: str | None
    position: int = Field(description="1-based place in the queue")


class WaitingOut(BaseModel):
    waiting_customers: list[WaitingItem]
    total: int


class AssignOut(BaseModel):
    customer_id: str
    assigned_kefu_id: str | None = Field(description="null while queued")
    assignment_time: str
    priority: Priority
    note: str | None
    status: Literal["assigned", "queued"]
    session_id: str | None = Field(description="null while queued")
    position: int | None = Field(default=None, description="place in the queue (queued only)")


class SwitchHandler(BaseHandler):
    @doc("A kefu switches to one of its customers (seed 2.3)", roles=("admin", "kefu"),
         response=SwitchOut, path_params=("kefu_id", "customer_id"), tag="kefu",
         errors=(401, 403, 404, 409),
         description="Admin, or the kefu itself (another kefu: 403). A waiting customer is "
                     "assigned to the kefu first (409 when it is full); a customer not in "
                     "the kefu's sessions: 404.")
    async def post(self, kefu_id: str, customer_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        if me.user_type is UserType.KEFU and me.id != kefu_id:
            raise ApiError(403, "forbidden")
        data = await self.ask(SwitchCustomer(kefu_id=kefu_id, customer_id=customer_id))
        self.ok("switch_ok", data, kefu_id=kefu_id, customer_id=customer_id)


class WaitingHandler(BaseHandler):
    @doc("Customers waiting for an agent, in queue order (seed 2.5)", roles=("admin", "kefu"),
         response=WaitingOut, tag="kefu", errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN, UserType.KEFU)
        self.ok("waiting_ok", await self.ask(GetWaiting()))


class AssignHandler(BaseHandler):
    @doc("Assign a customer to a kefu, or queue it for the next free one (seed 2.6)",
         roles=("admin", "kefu"), body=AssignBody, response=AssignOut,
         path_params=("customer_id",), tag="kefu", errors=(400, 401, 403, 404, 409),
         description="Admin: any kefu, force past capacity. Kefu: only itself as kefu_id, "
                     "no force (else 403). 409 when the customer is already in a session "
                     "or the kefu is full.")
    async def post(self, customer_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        body = self.parse(AssignBody)
        if me.user_type is UserType.KEFU and (body.kefu_id != me.id or body.force):
            raise ApiError(403, "forbidden")
        customer = await self.state.bridge.run_io(self.state.users.get, customer_id)
        if customer is None:
            raise ApiError(404, "user_not_found")
        if customer.user_type is not UserType.KEHU:
            raise ApiError(400, "not_a_kehu")
        data = await self.ask(AssignCustomer(
            kehu_id=customer.id, kehu_name=customer.name, kefu_id=body.kefu_id,
            priority=body.priority, note=body.note, force=body.force))
        key = "assign_ok" if data["status"] == "assigned" else "assign_queued"
        self.ok(key, data, customer_id=customer.id, kefu_id=data.get("assigned_kefu_id"))
