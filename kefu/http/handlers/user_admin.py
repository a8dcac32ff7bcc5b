"""User administration (seed 3.1, 3.4, 3.5, 3.6): list, update, delete, permissions.

A kefu's name and capacity live in two places: its user record (Redis) and the
dispatcher's memory, which enforces capacity. Every change here reaches the dispatcher
(``RegisterAgent`` / ``UnregisterAgent``, awaited) before the reply leaves, so the next
assignment already obeys it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from kefu.actors.messages import GetDispatcherState, RegisterAgent, UnregisterAgent
from kefu.domain import AgentStatus, User, UserType, iso, now
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.kefu_views import slot_of
from kefu.http.handlers.queries import PageInfo, UserListQuery, page_info, parse_query
from kefu.http.handlers.users import UserHandler as UserDetailHandler
from kefu.http.handlers.users import require_self_or_admin
from kefu.http.models import Body, Name, Password, UserOut
from kefu.http.openapi import doc
from kefu.permissions import problems as permission_problems
from kefu.persistence.accounts import delete_user, update_user
from kefu.persistence.listings import page_of_user_ids, user_ids
from kefu.persistence.user_permissions import set_permissions
from kefu.protocol import CloseCode

BOOTSTRAP_ADMIN = "admin"
Permission = Annotated[str, Field(min_length=1, max_length=64)]


class UpdateUserBody(Body):
    """``PUT /api/users/{id}``: admin any field of anyone; others their own name and
    password only (``max_sessions`` is a kefu's capacity, set by an admin)."""

    name: Name | None = None
    max_sessions: Annotated[int, Field(ge=1, le=100)] | None = None
    password: Password | None = None


class PermissionsBody(Body):
    """``PUT /api/users/{id}/permissions`` (admin only): replaces the list."""

    permissions: Annotated[list[Permission], Field(max_length=50)] | None  # null: defaults


class UserItem(UserOut):
    """A user with its live ``status`` and its number of live ``connections``."""

    connections: int


class UserListOut(BaseModel):
    users: list[UserItem]
    pagination: PageInfo


class UserUpdatedOut(BaseModel):
    user: UserItem


class UserDeletedOut(BaseModel):
    user_id: str
    user_type: str
    deleted_at: str
    revoked_tokens: int


class PermissionsOut(BaseModel):
    user_id: str
    permissions: list[str]
    user: UserItem


class UserAdminBase(BaseHandler):
    async def live_status(self) -> dict[str, str]:
        """kefu id → effective status from the dispatcher (offline without a connection)."""
        agents = (await self.ask(GetDispatcherState()))["agents"]
        return {k: slot_of(k, v).effective_status.value for k, v in agents.items()}

    def user_view(self, user: User, live: dict[str, str]) -> dict[str, Any]:
        """The user as every endpoint shows it, with its live ``status`` (a kefu's from
        the dispatcher, anyone else's from its connections) and ``connections``."""
        data = user.model_dump(mode="json")
        data["status"] = self.status_of(user.id, live)
        data["connections"] = self.state.online.count(user.id)
        return data

    def status_of(self, user_id: str, live: dict[str, str]) -> str:
        if user_id in live:
            return live[user_id]
        return AgentStatus.ONLINE.value if self.state.online.count(user_id) else "offline"

    async def sync_agent(self, user: User) -> None:
        """Tell the dispatcher a kefu's current name and capacity, and wait for it."""
        await self.ask(RegisterAgent(kefu_id=user.id, name=user.name,
                                     max_sessions=user.max_sessions))


class UserListHandler(UserAdminBase):
    """Seed 3.1 (admin only): newest first. ``user_type`` kefu | kehu | admin; ``status``
    online | offline | away | busy, the live status shown in each user object."""

    @doc("List users, newest first (seed 3.1)", query=UserListQuery, response=UserListOut,
         tag="users", errors=(400, 401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        q = parse_query(self, UserListQuery)
        page, limit = q.page, q.limit
        user_type, status = q.user_type, q.status
        live = await self.live_status()
        store = self.state.store
        if user_type is None and status is None:
            ids, total = await self.state.bridge.run_io(page_of_user_ids, store, page, limit)
        else:
            every = await self.state.bridge.run_io(user_ids, store, user_type)
            if status is not None:
                every = [u for u in every if self.status_of(u, live) == status]
            total = len(every)
            ids = every[(page - 1) * limit : page * limit]
        found = await self.state.bridge.run_io(self.state.users.get_many, ids)
        self.ok("users_list_ok", {
            "users": [self.user_view(found[u], live) for u in ids if u in found],
            "pagination": page_info(page, limit, total),
        })


class UserDetailOut(BaseModel):
    user: UserOut


class UserHandler(UserAdminBase, UserDetailHandler):
    """``/api/users/{id}``: GET (seed 3.3, unchanged), PUT (3.4), DELETE (3.5)."""

    @doc("A user's details (seed 3.3)", roles=("admin", "kefu", "kehu"),
         response=UserDetailOut, path_params=("user_id",), tag="users",
         description="Admin: anyone. Others: themselves (another user: 403 for a kefu, "
                     "404 for a kehu).")
    async def get(self, user_id: str) -> None:
        await UserDetailHandler.get(self, user_id)

    @doc("Update a user's name, capacity or password (seed 3.4)",
         roles=("admin", "kefu", "kehu"), body=UpdateUserBody, response=UserUpdatedOut,
         path_params=("user_id",), tag="users",
         description="Admin: any user. Others: their own name and password only "
                     "(max_sessions → 403; another user → 403 for a kefu, 404 for a kehu). "
                     "A new password revokes every token of the user but the caller's.")
    async def put(self, user_id: str) -> None:
        me = await self.authenticate()
        require_self_or_admin(me, user_id)
        body = self.parse(UpdateUserBody)
        if me.user_type is not UserType.ADMIN and body.max_sessions is not None:
            raise ApiError(403, "forbidden")
        if body.name is None and body.max_sessions is None and body.password is None:
            raise ApiError(400, "nothing_to_update")
        user = await self.state.bridge.run_io(self.state.users.get, user_id)
        if user is None:
            raise ApiError(404, "user_not_found")
        if body.max_sessions is not None and user.user_type is not UserType.KEFU:
            raise ApiError(400, "bad_request", {"max_sessions": "only a kefu has a capacity"})
        done = await self.state.bridge.run_io(lambda: update_user(
            self.state.store, user_id, name=body.name, max_sessions=body.max_sessions))
        if done and body.password is not None:  # revokes the user's other tokens
            keep = self.bearer() if me.id == user_id else None
            doomed = await self.state.bridge.run_io(
                self.state.users.set_password, user_id, body.password, keep)
            done = doomed is not None
            # the sockets opened with a revoked token go too (4401), the caller's stay
            self.state.rt.outbox.kick(user_id, CloseCode.UNAUTHORIZED, "token revoked", doomed or [])
        user = await self.state.bridge.run_io(self.state.users.get, user_id) if done else None
        if user is None:
            raise ApiError(404, "user_not_found")
        if user.user_type is UserType.KEFU and (body.name or body.max_sessions):
            await self.sync_agent(user)
        self.ok("user_updated", {"user": self.user_view(user, await self.live_status())})

    @doc("Delete a user and revoke its tokens (seed 3.5)", response=UserDeletedOut,
         path_params=("user_id",), tag="users", errors=(400, 401, 403, 404, 409),
         description="409 for the built-in admin or oneself, a kefu with active sessions, "
                     "or a kehu in a session or in the queue.")
    async def delete(self, user_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN)
        if user_id in (BOOTSTRAP_ADMIN, me.id):
            raise ApiError(409, "cannot_delete_self")
        user = await self.state.bridge.run_io(self.state.users.get, user_id)
        if user is None:
            raise ApiError(404, "user_not_found")
        if user.user_type is UserType.KEFU:
            # the dispatcher refuses while sessions are live, and assigns nothing after
            await self.ask(UnregisterAgent(kefu_id=user_id))
        elif user.user_type is UserType.KEHU:
            state = await self.ask(GetDispatcherState())
            if user_id in state["assignments"] or user_id in state["queue"]:
                raise ApiError(409, "user_in_service")
        revoked = await self.state.bridge.run_io(delete_user, self.state.store, user_id)
        self.state.rt.outbox.kick(user_id, CloseCode.UNAUTHORIZED, "user deleted")
        self.ok("user_deleted", {"user_id": user_id, "user_type": user.user_type.value,
                                 "deleted_at": iso(now()), "revoked_tokens": revoked})


class PermissionsHandler(UserAdminBase):
    """Seed 3.6 (admin only): replace a user's fine-grained permissions."""

    @doc("Replace a user's permissions (seed 3.6)", body=PermissionsBody,
         response=PermissionsOut, path_params=("user_id",), tag="users")
    async def put(self, user_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        body = self.parse(PermissionsBody)
        permissions = None if body.permissions is None else list(dict.fromkeys(body.permissions))
        target = await self.state.bridge.run_io(self.state.users.get, user_id)
        if target is None:
            raise ApiError(404, "user_not_found")
        if permissions is not None:
            bad = permission_problems(user_id, target.user_type, permissions)
            if bad:
                raise ApiError(400, "bad_request", bad)
        done = await self.state.bridge.run_io(
            set_permissions, self.state.store, user_id, permissions)
        user = await self.state.bridge.run_io(self.state.users.get, user_id) if done else None
        if user is None:
            raise ApiError(404, "user_not_found")
        self.ok("permissions_updated", {"user_id": user_id, "permissions": user.permissions,
                                        "user": self.user_view(user, await self.live_status())})
