"""The OpenAPI 3.1 document, generated from the route table and the pydantic models the
handlers themselves use (bodies, queries, replies), and the offline Swagger UI page.

Each handler method carries an :class:`ApiDoc` (the ``@doc`` decorator); a route method
without one is "undocumented" and fails ``tests/unit/test_openapi.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu import __version__
from kefu.http.endpoint_permissions import required as permission_of
from kefu.permissions import NONE

METHODS = ("get", "post", "put", "delete", "patch")
ERROR_STATUSES = {400: "Bad request (validation `details`)", 401: "No or bad token",
                  403: "Role may not call this", 404: "Not found (or not yours)",
                  409: "Conflict with the current state", 413: "Body over the limit",
                  429: "Rate limited", 503: "Storage or actor unavailable / maintenance"}


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    roles: tuple[str, ...] = ("admin",)  # () = public
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    path_params: tuple[str, ...] = ()
    tag: str = "kefu"
    status: int = 200
    # a file reply, e.g. "text/csv", or several (the caller picks one); its JSON variant
    # (if any) is an array of ``response`` items; a ``…+json`` one is one ``response``
    content_type: str | tuple[str, ...] | None = None
    description: str = ""
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
    # statuses that reply with the data envelope and ``success`` false (health's 503)
    data_statuses: tuple[int, ...] = ()


def doc(summary: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach an :class:`ApiDoc` to a handler method."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__openapi__ = ApiDoc(summary=summary, **kwargs)  # type: ignore[attr-defined]
        return func

    return mark


class ErrorEnvelope(BaseModel):
    """Every error reply (HTTP status == ``error_code``)."""

    model_config = ConfigDict(title="ErrorEnvelope")

    success: bool = False
    message: str
    error_code: int
    timestamp: str
    error: str | None = None
    details: dict[str, str] | None = None
    data: dict[str, Any] | None = None  # e.g. a 429's retry_after (seconds)


_GROUP = re.compile(r"\(\[\^/\]\+\)|\([^)]*\)")


def path_template(pattern: str, names: tuple[str, ...]) -> str:
    """``/api/sessions/([^/]+)/end`` + ("session_id",) → ``/api/sessions/{session_id}/end``."""
    it = iter(names)
    out = _GROUP.sub(lambda _m: "{" + next(it, "param") + "}", pattern)
    return out.rstrip("$")


def documented_methods(handler: type) -> list[tuple[str, Callable[..., Any]]]:
    """The HTTP methods a handler class itself implements."""
    from tornado.web import RequestHandler  # noqa: PLC0415

    found = []
    for name in METHODS:
        func = getattr(handler, name, None)
        if func is not None and func is not getattr(RequestHandler, name, None):
            found.append((name, func))
    return found


def undocumented(routes: Iterable[tuple[str, type, Any]]) -> list[str]:
    return [f"{m.upper()} {pattern}" for pattern, handler, _ in routes
            for m, func in documented_methods(handler)
            if not hasattr(func, "__openapi__") and not getattr(handler, "openapi_skip", False)]


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            self.components[name] = sub
        name = model.__name__
        self.components[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data: dict[str, Any], success: bool) -> dict[str, Any]:
    """The seed's reply envelope around ``data``."""
    return {"type": "object", "required": ["success", "message", "data"],
            "properties": {"success": {"type": "boolean", "const": success},
                           "message": {"type": "string"}, "data": data}}


def build(routes: Iterable[tuple[str, type, Any]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (the list from ``http/app.py``)."""
    schemas = _Schemas()
    error_ref = schemas.ref(ErrorEnvelope)
    paths: dict[str, Any] = {}
    for pattern, handler, _ in routes:
        if getattr(handler, "openapi_skip", False):
            continue
        for method, func in documented_methods(handler):
            d: ApiDoc | None = getattr(func, "__openapi__", None)
            if d is None:
                continue
            path = path_template(pattern, d.path_params)
            op: dict[str, Any] = {"summary": d.summary, "tags": [d.tag],
                                  "operationId": f"{method}_{handler.__name__}"}
            if d.description:
                op["description"] = d.description
            if d.roles:
                op["security"] = [{"bearerAuth": []}]
                op["description"] = (op.get("description", "") +
                                     f"\n\nRoles: {', '.join(d.roles)}.").strip()
            needed = permission_of(handler, method)  # issue 16: http/endpoint_permissions.py
            if needed not in (None, NONE):
                op["x-permission"] = needed
                op["description"] = (op.get("description", "") +
                                     f"\n\nPermission: `{needed}`.").strip()
            params = [{"name": n, "in": "path", "required": True,
                       "schema": {"type": "string", "maxLength": 300}} for n in d.path_params]
            if d.query is not None:
                qs = d.query.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.components.update(qs.pop("$defs", {}))
                required = set(qs.get("required", []))
                for name, prop in qs.get("properties", {}).items():
                    params.append({"name": name, "in": "query", "required": name in required,
                                   "schema": prop})
            if params:
                op["parameters"] = params
            if d.body is not None:
                # a missing body reads as {}: required only when some field is
                required_body = any(f.is_required() for f in d.body.model_fields.values())
                op["requestBody"] = {"required": required_body, "content": {
                    "application/json": {"schema": schemas.ref(d.body)}}}
            data = schemas.ref(d.response) if d.response else {"type": "object"}
            if d.content_type:
                media = (d.content_type,) if isinstance(d.content_type, str) else d.content_type
                ok_content = {m: {"schema": {"type": "array", "items": data}
                                  if m == "application/json" else data
                                  if m.endswith("+json") else {"type": "string"}}
                              for m in media}
            else:
                ok_content = {"application/json": {"schema": _envelope(data, True)}}
            responses: dict[str, Any] = {str(d.status): {"description": "OK",
                                                         "content": ok_content}}
            statuses = set(d.errors) | {400, 413, 503}
            if d.roles:
                statuses |= {401}
            for status in sorted(statuses):
                schema = error_ref
                if status in d.data_statuses:
                    schema = {"anyOf": [_envelope(data, False), error_ref]}
                responses[str(status)] = {"description": ERROR_STATUSES.get(status, "Error"),
                                          "content": {"application/json": {"schema": schema}}}
            op["responses"] = responses
            paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "kefu", "version": __version__,
                 "description": "Live-chat customer service: the seed API plus auth and "
                                "operations. The WebSocket protocol is in docs/protocol.md."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kefu API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/docs-init.js"></script>
</body></html>
"""

DOCS_INIT_JS = """window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, persistAuthorization: true});
"""


def swagger_static_dir() -> str:
    """Swagger UI 5's files, shipped by the ``swagger-ui-py`` package (no CDN)."""
    import os  # noqa: PLC0415

    import swagger_ui  # noqa: PLC0415

    return os.path.join(os.path.dirname(swagger_ui.__file__), "static")
