"""``/api/openapi.json`` and the interactive docs at ``/api/docs`` (served offline)."""

from __future__ import annotations

from typing import Any

import orjson
from tornado.web import RequestHandler, StaticFileHandler

from kefu.http.openapi import DOCS_HTML, DOCS_INIT_JS, build


class OpenApiHandler(RequestHandler):
    openapi_skip = True
    _cache: bytes | None = None

    def initialize(self, routes: list[tuple[str, type, Any]]) -> None:
        self.routes = routes

    def get(self) -> None:
        if OpenApiHandler._cache is None:
            OpenApiHandler._cache = orjson.dumps(build(self.routes))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(OpenApiHandler._cache)


class DocsHandler(RequestHandler):
    openapi_skip = True

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(DOCS_HTML)


class DocsInitHandler(RequestHandler):
    openapi_skip = True

    def get(self) -> None:
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.finish(DOCS_INIT_JS)


class DocsStaticHandler(StaticFileHandler):
    openapi_skip = True
