"""The base REST handler: the seed's envelope, auth, body parsing, errors as values.

Every error leaves as ``{"success": false, "message", "error_code", "timestamp"}`` (plus
``details`` for validation) with the HTTP status equal to ``error_code``; never a stack
trace.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from tornado.web import HTTPError, RequestHandler

from kefu import metrics
from kefu.actors.handles import AnyHandle
from kefu.actors.messages import Accepted, ActorMessage, Rejected
from kefu.domain import User, UserType, iso, now
from kefu.http.audit_trail import record
from kefu.http.client_address import client_address
from kefu.http.endpoint_permissions import required
from kefu.http.i18n import text, wants_english
from kefu.http.maintenance_gate import GUEST_PATH, refuses
from kefu.http.state import AppState
from kefu.log_format import REQUEST_ID
from kefu.permissions import NONE
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason
from kefu.protocol import RejectReason as R

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

STATUS_KEYS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "bad_request", 413: "body_too_large",
               429: "rate_limited", 503: "storage_unavailable"}


class ApiError(HTTPError):
    """An error reply: HTTP ``status``, an i18n ``key``, optional ``details``, ``data``
    (e.g. a 429's ``retry_after``) and response ``headers`` (e.g. ``Retry-After``)."""

    def __init__(self, status: int, key: str | None = None,
                 details: dict[str, str] | None = None, *, data: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, **params: Any) -> None:
        super().__init__(status)
        self.key = key or STATUS_KEYS.get(status, "internal")
        self.details = details
        self.data, self.headers = data, headers or {}
        self.params = params


# The HTTP status of every refusal: the one table (actors speak RejectReason, not HTTP).
REJECT_STATUS: dict[RejectReason, int] = {
    **dict.fromkeys((R.BAD_REQUEST, R.INVALID_JSON, R.BAD_FRAME, R.UNKNOWN_TYPE,
                     R.CONTENT_TOO_LONG), 400),
    R.FORBIDDEN: 403,
    **dict.fromkeys((R.SESSION_NOT_FOUND, R.KEFU_NOT_FOUND, R.CUSTOMER_NOT_FOUND,
                     R.ACTOR_NOT_FOUND, R.TEAM_NOT_FOUND, R.OFFER_GONE,
                     R.UPLOAD_NOT_FOUND), 404),
    **dict.fromkeys((R.SESSION_ENDED, R.SESSION_ACTIVE, R.SESSION_NOT_ACTIVE, R.NO_SESSION,
                     R.ALREADY_IN_SESSION, R.ALREADY_RATED, R.KEFU_FULL, R.KEFU_UNAVAILABLE,
                     R.KEFU_HAS_SESSIONS, R.TRANSFER_SAME_KEFU), 409),
    R.RATE_LIMITED: 429,
    R.INTERNAL: 500,
    **dict.fromkeys((R.MAINTENANCE, R.STORAGE_UNAVAILABLE, R.OUTCOME_UNKNOWN,
                     R.ACTOR_FAILED, R.TIMEOUT), 503),
}


def rejected(result: Rejected) -> ApiError:
    """An actor's refusal → the error reply (its status from :data:`REJECT_STATUS`)."""
    return ApiError(REJECT_STATUS[result.reason], result.reason.value, **result.params)


class BaseHandler(RequestHandler):
    state: AppState

    def initialize(self, state: AppState) -> None:
        self.state = state
        self.user: User | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.request_id: str = getattr(self, "request_id", None) or uuid.uuid4().hex
        self.set_header("X-Request-Id", self.request_id)

    async def _execute(self, transforms: list[Any], *args: bytes, **kwargs: bytes) -> None:
        """Tornado runs this as the request's own asyncio task (a copy of the context): the
        request id set here is on every line logged for this request, and on no other's
        (kefu/log_format.py). Called on the IOLoop thread."""
        REQUEST_ID.set(self.request_id)
        await super()._execute(transforms, *args, **kwargs)

    def on_finish(self) -> None:
        """Admin writes leave an audit entry (kefu/http/audit_trail.py)."""
        user = getattr(self, "user", None)
        if (user is not None and user.user_type is UserType.ADMIN
                and self.request.method not in ("GET", "HEAD", "OPTIONS")):
            record(self)

    def client_address(self) -> str:
        """The client's address (``X-Forwarded-For`` only from KEFU_TRUSTED_PROXIES)."""
        return client_address(self.request.remote_ip or "unknown",
                              self.request.headers.get("X-Forwarded-For"),
                              self.state.settings.trusted_proxies)

    @property
    def english(self) -> bool:
        return wants_english(self.request.headers.get("Accept-Language"))

    def prepare(self) -> None:
        length = self.request.headers.get("Content-Length")
        limit = self.state.settings.max_body_bytes
        if (length and length.isdigit() and int(length) > limit) or len(self.request.body) > limit:
            raise ApiError(413, "body_too_large")
        if self.request.path == GUEST_PATH and refuses(
                self.state.maintenance, self.request.method or "", GUEST_PATH, None):
            raise self.maintenance_error()

    # --- auth -----------------------------------------------------------------------

    def bearer(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip() or None
        return None

    async def authenticate(self, *roles: UserType) -> User:
        """The caller, or 401; 403 when its role is not among ``roles`` (if given)."""
        token = self.bearer()
        if token is None:
            raise ApiError(401, "unauthorized")
        user = await self.state.bridge.run_io(self.state.users.resolve_token, token)
        if user is None:
            raise ApiError(401, "unauthorized")
        # the endpoint's permission (http/endpoint_permissions.py): held → the role may
        # also be one it was granted to (a kefu with ``analytics``); missing → 403
        needed = required(type(self), self.request.method or "")
        held = needed not in (None, NONE) and needed in user.permissions
        if roles and user.user_type not in roles and not held:
            raise ApiError(403, "forbidden")
        if needed not in (None, NONE) and not held:
            raise ApiError(403, "permission_missing", data={"permission": needed},
                           permission=needed)
        if refuses(self.state.maintenance, self.request.method or "", self.request.path, user):
            raise self.maintenance_error()
        self.user = user
        return user

    def maintenance_error(self) -> ApiError:
        """503 ``maintenance`` whose message is the operator's (or the default)."""
        m = self.state.maintenance
        return ApiError(503, "maintenance",
                        message=m.message or text("maintenance_default", False),
                        message_en=m.message or text("maintenance_default", True))

    # --- bodies and queries ---------------------------------------------------------

    def parse(self, model: type[M]) -> M:
        body = self.request.body or b"{}"
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", {"body": "must be a JSON object"})
        try:
            # strict JSON validation: no coercion of true → 1 or "yes" → True
            return model.model_validate_json(body, strict=True)
        except ValidationError as exc:
            raise ApiError(400, "bad_request", validation_details(exc)) from exc

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ApiError(400, "bad_request", {name: "must be an integer"}) from exc
        if not lo <= value <= hi:
            raise ApiError(400, "bad_request", {name: f"must be between {lo} and {hi}"})
        return value

    def query_bool(self, name: str, default: bool) -> bool:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("1", "true", "yes"):
            return True
        if raw.lower() in ("0", "false", "no"):
            return False
        raise ApiError(400, "bad_request", {name: "must be true or false"})

    # --- actors ---------------------------------------------------------------------

    async def ask(self, msg: ActorMessage, handle: AnyHandle | None = None) -> dict[str, Any]:
        """Ask an actor (the dispatcher unless ``handle``) and return its ``Accepted``
        data; a refusal raises the matching error reply. Never blocks the loop."""
        return self.result(await self.state.bridge.ask(handle or self.state.rt.dispatcher(),
                                                       msg), "ok")

    # --- replies --------------------------------------------------------------------

    def ok(self, key: str, data: Any, **params: Any) -> None:
        self.reply_data = data  # the audit hook names the target from it
        self.finish(orjson.dumps({"success": True, "message": text(key, self.english, **params),
                                  "data": data}))

    def result(self, result: Any, key: str, **params: Any) -> dict[str, Any]:
        """An actor's reply → its data, or raise the matching error."""
        if isinstance(result, Rejected):
            raise rejected(result)
        if isinstance(result, Accepted):
            return result.data
        raise ApiError(500, "internal")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        details = None
        params: dict[str, Any] = {}
        data: dict[str, Any] | None = None
        if isinstance(exc, ApiError):
            key, details, params, data = exc.key, exc.details, exc.params, exc.data
            for name, value in exc.headers.items():
                self.set_header(name, value)
        elif isinstance(exc, REDIS_ERRORS):
            metrics.REDIS_ERROR_COUNT.labels("request").inc()
            status_code, key = 503, "storage_unavailable"
            self.set_status(503)
        else:
            key = STATUS_KEYS.get(status_code, "internal")
        body: dict[str, Any] = {"success": False, "message": text(key, self.english, **params),
                                "error_code": status_code, "timestamp": iso(now())}
        if key != STATUS_KEYS.get(status_code):
            body["error"] = key
        if details:
            body["details"] = details
        if data:
            body["data"] = data
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(orjson.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HTTPError):
            return
        if isinstance(value, REDIS_ERRORS):
            log.warning("%s %s: Redis unavailable: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def validation_details(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}


class NotFoundHandler(BaseHandler):
    """Every unknown path: the 404 envelope, whatever the method."""

    def prepare(self) -> None:
        raise ApiError(404, "not_found")
