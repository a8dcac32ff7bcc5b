"""Auth endpoints: login, guest (anonymous kehu), logout."""

from __future__ import annotations

from kefu.actors.messages import RegisterAgent
from kefu.domain import UserType, iso
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import GuestBody, LoginBody, RevokedOut, TokenOut
from kefu.http.openapi import doc


class LoginHandler(BaseHandler):
    @doc("Log in with user id and password", roles=(), body=LoginBody, response=TokenOut,
         tag="auth", errors=(400, 401))
    async def post(self) -> None:
        body = self.parse(LoginBody)
        users = self.state.users
        user = await self.state.bridge.run_io(users.verify_password, body.user_id, body.password)
        if user is None:
            raise ApiError(401, "invalid_credentials")
        token, expires = await self.state.bridge.run_io(users.issue_token, user.id)
        self.ok("login_ok", {"token": token, "user": user.model_dump(mode="json"),
                             "expires_at": iso(expires)})


class GuestHandler(BaseHandler):
    @doc("A new anonymous customer (kehu) with a token; rate-limited per address", roles=(),
         body=GuestBody, response=TokenOut, tag="auth", errors=(400, 429))
    async def post(self) -> None:
        body = self.parse(GuestBody)
        users = self.state.users
        client = self.request.remote_ip or "unknown"
        allowed = await self.state.bridge.run_io(
            users.guest_allowed, client, self.state.settings.guest_rate_per_minute)
        if not allowed:
            raise ApiError(429, "rate_limited")

        def create() -> tuple[dict[str, object], str, float]:
            user = users.create(name=body.name or "访客", user_type=UserType.KEHU)
            assert user is not None  # generated ids do not collide
            token, expires = users.issue_token(user.id)
            return user.model_dump(mode="json"), token, expires

        user, token, expires = await self.state.bridge.run_io(create)
        self.ok("guest_ok", {"token": token, "user": user, "expires_at": iso(expires)})


class LogoutHandler(BaseHandler):
    @doc("Revoke the caller's token", roles=("admin", "kefu", "kehu"), response=RevokedOut,
         tag="auth", errors=(401,))
    async def post(self) -> None:
        await self.authenticate()
        token = self.bearer()
        assert token is not None
        await self.state.bridge.run_io(self.state.users.revoke_token, token)
        self.ok("logout_ok", {"revoked": True})


__all__ = ["GuestHandler", "LoginHandler", "LogoutHandler", "RegisterAgent"]
