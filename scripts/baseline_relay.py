#!/usr/bin/env python3
"""A bare Tornado WebSocket relay: the limit of our stack for the benchmark (issue 4).

Same URL and frames as kefu's ``/ws`` (docs/protocol.md), but no actors, no Redis and no
users: one process, one event loop, everything in dicts.

- Connect to ``/ws?token=kefu-N`` (an agent) or ``/ws?token=kehu-N`` (a customer); the
  token is synthetic and only its role and number matter. Anything else is closed with
  4401. The server answers ``hello``.
- ``request_service`` from ``kehu-N`` pairs it with ``kefu-N`` (by number; the agent must
  be connected) and sends ``assigned`` to both.
- ``message`` from either side: the server builds a stored-message-shaped object (``id``,
  ``from``, ``to``, ``content``, ``content_type``, ``timestamp``, ``url``, ``session_id``,
  ``seq`` counting per pair, ``client_msg_id``), sends ``ack`` to the sender and a
  ``message`` frame to the peer's connection. Nothing is stored.
- ``ping`` → ``pong``. Frames are parsed and built with orjson, as kefu does.

Usage: ``python scripts/baseline_relay.py [--port 18999] [--host 127.0.0.1]``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
import uuid
from typing import Any

import orjson
import tornado.web
import tornado.websocket

conns: dict[str, Baseline] = {}
seqs: dict[str, int] = {}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _peer(uid: str) -> str:
    role, num = uid.split("-", 1)
    return ("kefu-" if role == "kehu" else "kehu-") + num


class Baseline(tornado.websocket.WebSocketHandler):
    uid: str | None = None
    session_id: str | None = None

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, *args: Any, **kwargs: Any) -> None:
        token = self.get_argument("token", "")
        role, _, num = token.partition("-")
        if role not in ("kefu", "kehu") or not num.isdigit():
            self.close(4401, "unauthorized")
            return
        self.uid = token
        conns[token] = self
        self.write_message(orjson.dumps({
            "type": "hello",
            "user": {"id": token, "name": token, "user_type": role, "status": "online",
                     "max_sessions": 1, "permissions": [], "created_at": _now()},
            "sessions": [], "server_time": _now(),
            "limits": {"max_frame_bytes": 65536, "max_text_chars": 4000}}).decode())

    def _error(self, code: str, ref: Any = None) -> None:
        self.write_message(orjson.dumps({"type": "error", "code": code, "message": code,
                                         "ref": ref}).decode())

    def on_message(self, raw: str | bytes) -> None:
        uid = self.uid
        if uid is None:
            return
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._error("invalid_json")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "message":
            self._message(uid, frame)
        elif kind == "request_service":
            self._request_service(uid)
        elif kind == "ping":
            self.write_message(orjson.dumps({"type": "pong", "server_time": _now()}).decode())
        else:
            self._error("unknown_type")

    def _request_service(self, uid: str) -> None:
        peer = conns.get(_peer(uid))
        if not uid.startswith("kehu-") or peer is None:
            self._error("forbidden" if not uid.startswith("kehu-") else "kefu_full")
            return
        sid = f"{uid}:{peer.uid}"
        self.session_id = peer.session_id = sid
        seqs.setdefault(sid, 0)
        frame = orjson.dumps({
            "type": "assigned",
            "session": {"session_id": sid, "kefu_id": peer.uid, "kefu_name": peer.uid,
                        "kehu_id": uid, "kehu_name": uid, "status": "active",
                        "transferred_from": None},
            "kefu": {"id": peer.uid, "name": peer.uid}, "kehu": {"id": uid, "name": uid},
        }).decode()
        self.write_message(frame)
        peer.write_message(frame)

    def _message(self, uid: str, frame: dict[str, Any]) -> None:
        cmid, content = frame.get("client_msg_id"), frame.get("content")
        if not isinstance(cmid, str) or not isinstance(content, str):
            self._error("bad_frame", cmid if isinstance(cmid, str) else None)
            return
        sid = self.session_id
        peer = conns.get(_peer(uid))
        if sid is None or peer is None:
            self._error("no_session", cmid)
            return
        seq = seqs[sid] = seqs[sid] + 1
        msg = {"id": "msg_" + uuid.uuid4().hex, "from": uid, "to": peer.uid,
               "content": content, "content_type": frame.get("content_type", "Text"),
               "timestamp": _now(), "url": frame.get("url"), "session_id": sid, "seq": seq,
               "client_msg_id": cmid}
        self.write_message(orjson.dumps({"type": "ack", "client_msg_id": cmid,
                                         "message": msg}).decode())
        peer.write_message(orjson.dumps({"type": "message", "message": msg}).decode())

    def on_close(self) -> None:
        if self.uid is not None and conns.get(self.uid) is self:
            del conns[self.uid]


class Health(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"success": True, "data": {"status": "ok"}})


async def serve(host: str, port: int) -> None:
    app = tornado.web.Application([(r"/ws", Baseline), (r"/api/system/health", Health)],
                                  websocket_max_message_size=65536)
    app.listen(port, address=host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18999)
    args = ap.parse_args()
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
