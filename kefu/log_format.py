"""The server's log lines: text (default) or JSON (``KEFU_LOG_FORMAT=json``), with the
request id of the REST request being handled.

JSON: one object per line on stderr::

    {"time": "2026-12-04T22:31:07.412Z", "level": "warning", "logger": "tornado.access",
     "message": "404 GET /api/nope (127.0.0.1) 1.02ms", "request_id": "9f0c…"}

plus, for the ``kefu.events`` logger (``Runtime.event``), ``actor``, ``event`` and
``fields`` (the event's structured details, as stored in the system log), and ``exc`` (the
traceback) when one is logged.

The request id (the reply's ``X-Request-Id``) lives in the context variable
:data:`REQUEST_ID`, set by ``BaseHandler`` at the start of its request. Tornado runs each
request's handler as its own asyncio task, whose context is a copy, so the id is that
request's alone and never leaks to the next one on the loop; ``Bridge.run_io`` copies the
context into the executor thread, so what a request's Redis work logs carries it too.
Lines logged elsewhere (actors, timers, start-up) carry no ``request_id``.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("kefu_request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EVENT_ATTR = "kefu_event"  # LogRecord attribute set by Runtime.event (``extra=``)


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or None) on every record as ``record.request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, object] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        request_id = getattr(record, "request_id", None)
        if request_id:
            out["request_id"] = request_id
        event = getattr(record, EVENT_ATTR, None)
        if isinstance(event, dict):
            out.update(event)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


def handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``log_format`` (``text`` or ``json``) lines to ``stream``
    (default stderr), each record carrying the current request id."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(RequestIdFilter())
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return out


def configure(log_format: str) -> None:
    """Root logging on stderr at INFO in ``log_format`` (``text`` or ``json``); Tornado's
    access log only from WARNING (the 4xx and 5xx). Called once, before the loop starts."""
    logging.basicConfig(level=logging.INFO, handlers=[handler(log_format)])


def announce(message: str, error: bool = False) -> None:
    """A line for the operator (listening, shutting down, the bootstrap admin): printed as
    it is in text mode (stdout, or stderr for an ``error``); in JSON mode a record of the
    ``kefu`` logger instead, so that every line the server writes is JSON."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        logging.getLogger("kefu").log(logging.ERROR if error else logging.INFO, "%s",
                                      message.removeprefix("kefu: ").replace("\nkefu: ", " "))
    else:
        print(message, file=sys.stderr if error else sys.stdout, flush=True)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
