"""A real HTTP receiver on loopback for the webhook tests: records every POST (path,
headers, JSON body); ``/redirect`` answers 302 to ``/hook``; ``/hang`` holds its reply
until :meth:`Receiver.release`. It can be stopped and started again on the same port."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self.held = threading.Event()
        self.held.set()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.changed:
                    receiver.got.append({"path": self.path, "headers": dict(self.headers),
                                         "raw": body, "body": json.loads(body)})
                    receiver.changed.notify_all()
                if self.path == "/hang":
                    receiver.held.wait(30)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.url("/hook"))
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def hold(self) -> None:
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    def wait(self, done: Callable[[list[dict[str, Any]]], bool],
             timeout: float = 20.0) -> list[dict[str, Any]]:
        """The requests so far, once ``done(requests)`` holds (else AssertionError)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not done(self.got):
                left = deadline - time.monotonic()
                assert left > 0, f"receiver: condition not met; got {self.got}"
                self.changed.wait(left)
            return list(self.got)


def signed_by(request: dict[str, Any], secret: str) -> bool:
    """Whether the request carries a valid signature of ``secret`` and a fresh timestamp."""
    headers = request["headers"]
    stamp = headers["X-Kefu-Timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + request["raw"], hashlib.sha256)
    return (hmac.compare_digest(headers["X-Kefu-Signature"], f"sha256={mac.hexdigest()}")
            and abs(time.time() - int(stamp)) < 300
            and headers["X-Kefu-Event-Id"] == request["body"]["id"])
