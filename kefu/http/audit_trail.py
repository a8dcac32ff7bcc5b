"""The audit trail of admin actions: the hook that records them (``GET /api/admin/audit``,
in ``handlers/audit.py``, reads them).

One mechanism for every endpoint: :meth:`BaseHandler.on_finish` calls :func:`record` for
each request by an admin that is not a GET/HEAD/OPTIONS — whatever its outcome (the reply
status is in the entry). An entry holds who (``by``, ``role``), what (``action``: the
method and route template, ``detail``: the JSON body without secret fields), the
``target`` (the path's ids, else the id the reply names), when (``at``), the
``request_id`` (also the reply's ``X-Request-Id`` header) and the caller's ``ip``.

The write goes to Redis in the executor after the reply has left (the loop never waits
on it); :meth:`AuditTrail.settled` lets the reader wait for writes still in flight, so an
admin reads their own actions at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import orjson
from tornado.httputil import HTTPServerRequest
from tornado.web import Application

from kefu.domain import User
from kefu.http.i18n import MESSAGES
from kefu.http.openapi import path_template
from kefu.http.state import AppState
from kefu.persistence.audit import AuditLog, entry_fields

log = logging.getLogger(__name__)


class Audited(Protocol):
    """What recording needs of a finished request (``handlers.base.BaseHandler``)."""

    request: HTTPServerRequest
    application: Application
    path_args: list[str]
    request_id: str
    user: User | None
    state: AppState

    def client_address(self) -> str: ...

    def get_query_argument(self, name: str, default: Any = ...) -> Any: ...

    def get_status(self) -> int: ...
SECRET_WORDS = ("pass", "salt", "hash", "pw_", "token", "secret")
MAX_DETAIL_BODY = 64 * 1024
MESSAGES.update({"audit_ok": ("获取审计日志成功", "Audit log")})


class AuditTrail:
    """In-flight audit writes of this process. Used on the IOLoop thread only."""

    def __init__(self, audit: AuditLog, handler: Audited) -> None:
        self.audit = audit
        self.bridge = handler.state.bridge
        self.pending: set[asyncio.Future[str]] = set()

    def write(self, fields: dict[str, str]) -> None:
        fut = asyncio.get_running_loop().run_in_executor(self.bridge.executor,
                                                         self.audit.append, fields)
        self.pending.add(fut)

        def done(f: asyncio.Future[str]) -> None:
            self.pending.discard(f)
            if not f.cancelled() and f.exception() is not None:
                log.error("audit entry not stored (%s): %s", f.exception(), fields)

        fut.add_done_callback(done)

    async def settled(self) -> None:
        """Wait until every write started so far has finished (stored or failed)."""
        if self.pending:
            await asyncio.gather(*list(self.pending), return_exceptions=True)


def trail_of(handler: Audited) -> AuditTrail:
    """The application's trail (made on first use; kept in the app's settings dict)."""
    settings = handler.application.settings
    trail = settings.get("kefu_audit_trail")
    if trail is None:
        s = handler.state
        trail = settings["kefu_audit_trail"] = AuditTrail(
            AuditLog(s.store, s.settings.audit_maxlen), handler)
    return trail


_TEMPLATES: dict[tuple[type, str], str] = {}


def action_of(handler: Audited) -> str:
    """``METHOD /route/{template}``, from the route table and the method's ``@doc``."""
    method = (handler.request.method or "").upper()
    key = (type(handler), method)
    template = _TEMPLATES.get(key)
    if template is None:
        template = handler.request.path
        for rule in handler.application.wildcard_router.rules:
            if rule.target is type(handler):
                api = getattr(getattr(type(handler), method.lower(), None), "__openapi__", None)
                template = path_template(rule.matcher.regex.pattern,  # type: ignore[attr-defined]
                                         api.path_params if api else ())
                break
        _TEMPLATES[key] = template
    return f"{method} {template}"


def masked(value: Any, removed: list[str]) -> Any:
    """The body as the audit keeps it: keys naming secrets left out (their names go to
    ``removed``), at most 50 items per level, long strings cut."""
    if isinstance(value, dict):
        out = {}
        for k, v in list(value.items())[:50]:
            if any(w in str(k).lower() for w in SECRET_WORDS):
                removed.append(str(k))
            else:
                out[k] = masked(v, removed)
        return out
    if isinstance(value, list):
        return [masked(v, removed) for v in value[:50]]
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value


def target_of(handler: Audited) -> str:
    """The path's ids, else the id the reply names (a created user, a backup)."""
    if handler.path_args:
        return "/".join(str(a) for a in handler.path_args)
    reply = getattr(handler, "reply_data", None)
    if isinstance(reply, dict):
        user = reply.get("user")
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            return user["id"]
        for name in ("user_id", "name", "session_id", "message_id"):
            if isinstance(reply.get(name), str):
                return reply[name]
    return ""


def record(handler: Audited) -> None:
    """Queue the audit entry of a finished admin request. Called on the IOLoop thread
    (from ``on_finish``); never raises."""
    try:
        user = handler.user
        assert user is not None
        detail: dict[str, Any] = {}
        removed: list[str] = []
        body = handler.request.body
        if body and len(body) <= MAX_DETAIL_BODY:
            try:
                detail["body"] = masked(orjson.loads(body), removed)
            except orjson.JSONDecodeError:
                detail["body"] = "(not JSON)"
        if handler.request.query:
            detail["query"] = masked({k: handler.get_query_argument(k)
                                      for k in handler.request.query_arguments}, removed)
        if removed:
            detail["redacted"] = sorted(set(removed))
        fields = entry_fields(
            by=user.id, role=user.user_type.value, action=action_of(handler),
            target=target_of(handler), path=handler.request.path,
            status=handler.get_status(), request_id=handler.request_id,
            ip=handler.client_address(), detail=detail)
        trail_of(handler).write(fields)
    except Exception:  # an audit failure must not break the reply (already sent)
        log.exception("audit entry not recorded for %s %s", handler.request.method,
                      handler.request.path)
