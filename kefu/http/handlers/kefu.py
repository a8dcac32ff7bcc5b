"""Agent assignment (seed 2.3, 2.5, 2.6): switch, waiting list, assign."""

from __future__ import annotations

from kefu.actors.messages import AssignCustomer, GetWaiting, SwitchCustomer
from kefu.domain import UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import AssignBody


class SwitchHandler(BaseHandler):
    async def post(self, kefu_id: str, customer_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        if me.user_type is UserType.KEFU and me.id != kefu_id:
            raise ApiError(403, "forbidden")
        result = await self.state.bridge.ask(self.state.rt.dispatcher(), lambda reply: SwitchCustomer(
            kefu_id=kefu_id, customer_id=customer_id, reply=reply))
        data = self.result(result, "switch_ok")
        self.ok("switch_ok", data, kefu_id=kefu_id, customer_id=customer_id)


class WaitingHandler(BaseHandler):
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN, UserType.KEFU)
        result = await self.state.bridge.ask(self.state.rt.dispatcher(),
                                             lambda reply: GetWaiting(reply=reply))
        self.ok("waiting_ok", self.result(result, "waiting_ok"))


class AssignHandler(BaseHandler):
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
        result = await self.state.bridge.ask(self.state.rt.dispatcher(), lambda reply: AssignCustomer(
            kehu_id=customer.id, kehu_name=customer.name, kefu_id=body.kefu_id,
            priority=body.priority, note=body.note, force=body.force, reply=reply))
        data = self.result(result, "assign_ok")
        key = "assign_ok" if data["status"] == "assigned" else "assign_queued"
        self.ok(key, data, customer_id=customer.id, kefu_id=data.get("assigned_kefu_id"))
