"""Users: create (admin), detail, status (seed 3.2, 3.3, 3.7)."""

from __future__ import annotations

from kefu.actors.messages import RegisterAgent, SetAgentStatus
from kefu.domain import User, UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import CreateUserBody, StatusBody, UserCreatedOut, UserStatusOut
from kefu.http.openapi import doc
from kefu.permissions import problems as permission_problems


class UserCreateHandler(BaseHandler):
    @doc("Create a user: kefu, kehu or admin (seed 3.2)", body=CreateUserBody,
         response=UserCreatedOut, status=201, tag="users", errors=(400, 401, 403, 409),
         description="409 when the id is taken. A new kefu is registered with the "
                     "dispatcher at once.")
    async def post(self) -> None:
        await self.authenticate(UserType.ADMIN)
        body = self.parse(CreateUserBody)
        if body.permissions is not None:
            bad = permission_problems(body.id or "", body.user_type, body.permissions)
            if bad:
                raise ApiError(400, "bad_request", bad)
        user = await self.state.bridge.run_io(lambda: self.state.users.create(
            name=body.name, user_type=body.user_type, user_id=body.id, password=body.password,
            max_sessions=body.max_sessions, permissions=body.permissions))
        if user is None:
            raise ApiError(409, "user_exists")
        if user.user_type is UserType.KEFU:
            self.state.rt.dispatcher().tell(RegisterAgent(
                kefu_id=user.id, name=user.name, max_sessions=user.max_sessions))
        self.set_status(201)
        self.ok("user_created", {"user": user.model_dump(mode="json")})


class UserHandler(BaseHandler):
    async def get(self, user_id: str) -> None:
        me = await self.authenticate()
        require_self_or_admin(me, user_id)
        user = await self.state.bridge.run_io(self.state.users.get, user_id)
        if user is None:
            raise ApiError(404, "user_not_found")
        data = user.model_dump(mode="json")
        if user.user_type is UserType.KEFU:
            data["connections"] = self.state.online.count(user.id)
        self.ok("user_detail_ok", {"user": data})


class UserStatusHandler(BaseHandler):
    @doc("Set a user's status: online, away, busy or offline (seed 3.7)",
         roles=("admin", "kefu"), body=StatusBody, response=UserStatusOut,
         path_params=("user_id",), tag="users",
         description="Admin: anyone. Kefu: itself only (another user: 403). For a kefu the "
                     "reply adds effective_status (offline while no connection is live).")
    async def put(self, user_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        if me.user_type is UserType.KEFU and me.id != user_id:
            raise ApiError(403, "forbidden")
        body = self.parse(StatusBody)
        user = await self.state.bridge.run_io(self.state.users.get, user_id)
        if user is None:
            raise ApiError(404, "user_not_found")
        if user.user_type is not UserType.KEFU:
            await self.state.bridge.run_io(
                lambda: self.state.users.set_fields(user_id, status=body.status.value))
            self.ok("status_updated", {"user_id": user_id, "status": body.status.value})
            return
        self.ok("status_updated", await self.ask(SetAgentStatus(kefu_id=user_id,
                                                                status=body.status)))


def require_self_or_admin(me: User, user_id: str) -> None:
    """Admin: anyone. Others: only themselves (another user: 404 for a kehu, which must
    not learn who exists; 403 for a kefu)."""
    if me.user_type is not UserType.ADMIN and me.id != user_id:
        if me.user_type is UserType.KEHU:
            raise ApiError(404, "user_not_found")
        raise ApiError(403, "forbidden")
    if me.id != user_id and "users" not in me.permissions:  # another user: kefu/permissions.py
        raise ApiError(403, "permission_missing", data={"permission": "users"},
                       permission="users")
