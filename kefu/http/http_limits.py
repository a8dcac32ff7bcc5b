"""The HTTP server's own limits, below the handlers (docs/security.md, "Limits").

- **Connections.** At most ``KEFU_MAX_CONNECTIONS`` TCP connections are open at once (the
  setting is capped below the file-descriptor limit); one more is closed as soon as it is
  accepted, so a flood of idle connections cannot take the last descriptor the server
  needs for Redis or its log.
- **Slow or silent clients.** A request's headers must arrive within
  ``KEFU_HTTP_HEADER_TIMEOUT_SECONDS`` (which is also how long an idle keep-alive
  connection is kept) and its body within ``KEFU_HTTP_BODY_TIMEOUT_SECONDS``; Tornado's
  defaults were an hour and none. A WebSocket that stops answering pings is closed after
  ``KEFU_WS_PING_INTERVAL`` + ``KEFU_WS_PING_TIMEOUT``.
- **Header size.** Headers over ``KEFU_MAX_HEADER_BYTES`` get ``431`` in the seed's
  envelope and the connection closes; Tornado alone just dropped the connection. Tornado
  still reads at most four times the limit (at least 64 KiB) before it gives up on a
  request without an answer.
- **No version banner.** The ``Server`` header is dropped from every reply.

Loop thread only.
"""

from __future__ import annotations

import resource
from typing import Any

import orjson
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.web import OutputTransform

from kefu.config import Settings
from kefu.domain import iso, now
from kefu.http.i18n import text, wants_english

FD_HEADROOM = 256  # descriptors kept for Redis, the log, the executor and friends


def connection_ceiling(wanted: int) -> int:
    """``KEFU_MAX_CONNECTIONS``, lowered to fit under the file-descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - FD_HEADROOM))


def header_bytes(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders) -> int:
    """The size of a request's start line and headers, as sent (near enough)."""
    size = len(start_line.method) + len(start_line.path) + len(start_line.version) + 4
    for name, value in headers.get_all():
        size += len(name) + len(value) + 4
    return size


class _HeaderLimit(httputil.HTTPMessageDelegate):
    """Answers 431 itself when the headers are over the limit, else hands on."""

    def __init__(self, inner: httputil.HTTPMessageDelegate, conn: httputil.HTTPConnection,
                 limit: int) -> None:
        self.inner, self.conn, self.limit = inner, conn, limit
        self.refused = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Any:
        assert isinstance(start_line, httputil.RequestStartLine)
        if header_bytes(start_line, headers) <= self.limit:
            return self.inner.headers_received(start_line, headers)
        self.refused = True
        english = wants_english(headers.get("Accept-Language"))
        body = orjson.dumps({"success": False, "message": text("header_too_large", english),
                             "error_code": 431, "error": "header_too_large",
                             "timestamp": iso(now())})
        self.conn.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 431, "Request Header Fields Too Large"),
            httputil.HTTPHeaders({"Content-Type": "application/json; charset=utf-8",
                                  "Content-Length": str(len(body)), "Connection": "close"}),
            body)
        self.conn.finish()
        return None

    def data_received(self, chunk: bytes) -> Any:
        return None if self.refused else self.inner.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.inner.on_connection_close()


class GuardedHTTPServer(HTTPServer):
    """Tornado's HTTPServer with a connection ceiling and the 431 reply."""

    def initialize(self, *args: Any, max_connections: int = 20_000,  # type: ignore[override]
                   max_header_bytes: int = 32 * 1024, **kwargs: Any) -> None:
        kwargs.setdefault("max_header_size", max(4 * max_header_bytes, 64 * 1024))
        super().initialize(*args, **kwargs)
        self.max_connections = connection_ceiling(max_connections)
        self.max_header_bytes = max_header_bytes
        self.open_connections = 0
        self.refused_connections = 0

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if self.open_connections >= self.max_connections:
            self.refused_connections += 1
            stream.close()
            return
        self.open_connections += 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        self.open_connections -= 1
        super().on_close(server_conn)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection
                      ) -> httputil.HTTPMessageDelegate:
        return _HeaderLimit(super().start_request(server_conn, request_conn), request_conn,
                            self.max_header_bytes)


class NoServerHeader(OutputTransform):
    """Drops the ``Server`` header Tornado puts on every reply (it names the version)."""

    def transform_first_chunk(self, status_code: int, headers: httputil.HTTPHeaders,
                              chunk: bytes, finishing: bool
                              ) -> tuple[int, httputil.HTTPHeaders, bytes]:
        if "Server" in headers:
            del headers["Server"]
        return status_code, headers, chunk


def http_server(app: Any, s: Settings) -> GuardedHTTPServer:
    """The server for ``app`` with every limit of ``s``."""
    return GuardedHTTPServer(app, max_body_size=16 * s.max_body_bytes, xheaders=False,
                             idle_connection_timeout=s.http_header_timeout_seconds,
                             body_timeout=s.http_body_timeout_seconds,
                             max_connections=s.max_connections,
                             max_header_bytes=s.max_header_bytes)
