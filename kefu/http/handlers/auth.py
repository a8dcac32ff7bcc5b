"""Auth endpoints: login, guest (anonymous kehu), logout.

Rate limits (``persistence/rate_limits.py``, counters in Redis): failed logins per user
id (``KEFU_LOGIN_FAIL_LIMIT`` per ``KEFU_LOGIN_FAIL_WINDOW_SECONDS``) and guest creation
per client address (``KEFU_GUEST_RATE_PER_MINUTE``). A refusal is a 429 envelope with
``data.retry_after`` (seconds) and a ``Retry-After`` header.
"""

from __future__ import annotations

from kefu.actors.messages import RegisterAgent
from kefu.config import Settings
from kefu.domain import User, UserType, iso
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import GuestBody, LoginBody, RevokedOut, TokenOut
from kefu.http.openapi import doc
from kefu.persistence.rate_limits import Limit, RateLimits, Verdict
from kefu.persistence.users import USER_ID_RE, token_digest
from kefu.protocol import CloseCode


def login_limit(s: Settings) -> Limit:
    return Limit("login", s.login_fail_limit, s.login_fail_window_seconds)


def guest_limit(s: Settings) -> Limit:
    return Limit("guest", s.guest_rate_per_minute, 60)


def guest_budget(s: Settings) -> Limit:
    """Guests per minute from every address together (KEFU_GUEST_GLOBAL_RATE_PER_MINUTE)."""
    return Limit("guest_all", s.guest_global_rate_per_minute, 60)


def too_many(verdict: Verdict) -> ApiError:
    """The 429 reply: ``retry_after`` in ``data`` and in the ``Retry-After`` header."""
    return ApiError(429, "rate_limited", data={"retry_after": verdict.retry_after},
                    headers={"Retry-After": str(verdict.retry_after)})


class LoginHandler(BaseHandler):
    @doc("Log in with user id and password", roles=(), body=LoginBody, response=TokenOut,
         tag="auth", errors=(400, 401, 429),
         description="429 (`data.retry_after`, `Retry-After` header) once a user id has "
                     "had KEFU_LOGIN_FAIL_LIMIT failed logins in the current window; a "
                     "success clears the count.")
    async def post(self) -> None:
        body = self.parse(LoginBody)
        users, limit = self.state.users, login_limit(self.state.settings)
        limits = RateLimits(self.state.store)
        counted = bool(USER_ID_RE.match(body.user_id))  # no other id can exist

        def attempt() -> tuple[User | None, Verdict | None]:  # executor thread
            if counted:
                verdict = limits.peek(limit, body.user_id)
                if not verdict.allowed:
                    return None, verdict
            user = users.verify_password(body.user_id, body.password)
            if counted:
                if user is None:
                    limits.hit(limit, body.user_id)
                else:
                    limits.clear(limit, body.user_id)
            return user, None

        user, refused = await self.state.bridge.run_io(attempt)
        if refused is not None:
            raise too_many(refused)
        if user is None:
            raise ApiError(401, "invalid_credentials")
        token, expires = await self.state.bridge.run_io(users.issue_token, user.id)
        self.ok("login_ok", {"token": token, "user": user.model_dump(mode="json"),
                             "expires_at": iso(expires)})


class GuestHandler(BaseHandler):
    @doc("A new anonymous customer (kehu) with a token; rate-limited per address", roles=(),
         body=GuestBody, response=TokenOut, tag="auth", errors=(400, 429),
         description="429 (`data.retry_after`, `Retry-After` header) past "
                     "KEFU_GUEST_RATE_PER_MINUTE guests per client address per minute, or "
                     "KEFU_GUEST_GLOBAL_RATE_PER_MINUTE from all addresses together. A "
                     "guest idle for KEFU_GUEST_TTL_DAYS is removed with its tokens.")
    async def post(self) -> None:
        body = self.parse(GuestBody)
        users, s = self.state.users, self.state.settings
        client = self.client_address()
        limits = RateLimits(self.state.store)

        def allowed() -> Verdict:  # executor thread
            verdict = limits.hit(guest_limit(s), client)
            return limits.hit(guest_budget(s), "all") if verdict.allowed else verdict

        verdict = await self.state.bridge.run_io(allowed)
        if not verdict.allowed:
            raise too_many(verdict)

        def create() -> tuple[dict[str, object], str, float]:
            user = users.create(name=body.name or "访客", user_type=UserType.KEHU, guest=True)
            assert user is not None  # generated ids do not collide
            token, expires = users.issue_token(user.id)
            return user.model_dump(mode="json"), token, expires

        user, token, expires = await self.state.bridge.run_io(create)
        self.ok("guest_ok", {"token": token, "user": user, "expires_at": iso(expires)})


class LogoutHandler(BaseHandler):
    @doc("Revoke the caller's token", roles=("admin", "kefu", "kehu"), response=RevokedOut,
         tag="auth", errors=(401,),
         description="The token stops working at once, for REST and for new WebSocket "
                     "handshakes (4401).")
    async def post(self) -> None:
        me = await self.authenticate()
        token = self.bearer()
        assert token is not None
        await self.state.bridge.run_io(self.state.users.revoke_token, token)
        # sockets opened with this token close too (4401); the user's others stay
        self.state.rt.outbox.kick(me.id, CloseCode.UNAUTHORIZED, "token revoked",
                                  [token_digest(token)])
        self.ok("logout_ok", {"revoked": True})


__all__ = ["GuestHandler", "LoginHandler", "LogoutHandler", "RegisterAgent"]
