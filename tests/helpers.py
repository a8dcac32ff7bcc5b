"""Test clients that talk to a real server: HTTP (httpx) and WebSocket (websocket-client).

Nothing here sleeps to wait for the server's actors: every wait is a blocking receive with
a timeout on a real socket.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websocket

from kefu.testing.processes import LAB_LIMITS, KefuProcess, RedisProcess


def clear_of_minute_end(margin: float = 5.0) -> None:
    """The per-minute rate limits count in fixed windows of the clock's minutes: a test
    that must see one fill up starts clear of a window's end."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)  # (the clock, not an actor)


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class ServerProcess(KefuProcess):
    """The real ``kefu serve`` as a child process with its own embedded Redis, with the
    suite's settings: a known admin password, the abuse limits lifted (LAB_LIMITS; the
    limits are tested at their defaults in tests/security) and a cheap scrypt N (the
    default 2**17 is tested in tests/security/test_passwords.py)."""

    def __init__(self, data_dir: Path, port: int | None = None, **env: str) -> None:
        super().__init__(data_dir, port, {**LAB_LIMITS, "KEFU_ADMIN_PASSWORD": "admin-pass",
                                          "KEFU_SCRYPT_N": "1024",
                                          "KEFU_KEHU_MSG_RATE_PER_MINUTE": "1000000", **env})


@contextlib.contextmanager
def running(data_dir: Path, **env: str) -> Iterator[ServerProcess]:
    """A started :class:`ServerProcess`, stopped on exit (module and package fixtures)."""
    srv = ServerProcess(data_dir, **env).start()
    try:
        yield srv
    finally:
        srv.stop()


class Api:
    """A REST client with a bearer token."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.token = token
        self.http = httpx.Client(base_url=base, timeout=10)

    def call(self, method: str, path: str, json_body: Any = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.http.request(method, path, json=json_body, headers=headers, **kw)

    def ok(self, method: str, path: str, json_body: Any = None, **kw: Any) -> dict[str, Any]:
        r = self.call(method, path, json_body, **kw)
        assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
        body = r.json()
        assert body["success"] is True
        return body["data"]

    @classmethod
    def login(cls, base: str, user_id: str, password: str) -> Api:
        api = cls(base)
        data = api.ok("POST", "/api/auth/login", {"user_id": user_id, "password": password})
        api.token = data["token"]
        return api

    def create_kefu(self, name: str | None = None, max_sessions: int = 5) -> tuple[str, Api]:
        kefu_id = uid("kefu")
        self.ok("POST", "/api/users/create", {"id": kefu_id, "name": name or kefu_id,
                                              "user_type": "kefu", "password": "pw",
                                              "max_sessions": max_sessions})
        CREATED.append((self.base, "kefu", kefu_id))
        return kefu_id, Api.login(self.base, kefu_id, "pw")

    def guest(self, name: str = "访客") -> tuple[str, Api]:
        api = Api(self.base)
        data = api.ok("POST", "/api/auth/guest", {"name": name})
        api.token = data["token"]
        CREATED.append((self.base, "kehu", data["user"]["id"]))
        return data["user"]["id"], api


# Agents and guests the helpers created, in order: (server base URL, kind, id). The
# autouse fixture ``no_leftovers`` (tests/conftest.py) cleans up after each test what the
# test itself made, so a test never meets another's customers on a shared server.
CREATED: list[tuple[str, str, str]] = []


def clean_up(created: list[tuple[str, str, str]]) -> None:
    """End the active sessions of the agents in ``created`` and take the guests in
    ``created`` out of the queue (assigned to a sink agent, then ended), on every server
    still running. An agent that left with customers would otherwise hand them back to
    the queue's front when its grace period ends, for the next test's new agent."""
    for base in dict.fromkeys(b for b, _k, _i in created):
        try:
            admin = Api.login(base, "admin", "admin-pass")
        except (httpx.HTTPError, AssertionError):
            continue  # the server is gone, or not one of ours
        kefu = [i for b, k, i in created if b == base and k == "kefu"]
        kehu = {i for b, k, i in created if b == base and k == "kehu"}
        for kefu_id in kefu:
            r = admin.call("GET", f"/api/kefu/{kefu_id}/customers")
            for c in r.json()["data"]["customers"] if r.status_code == 200 else []:
                admin.call("POST", f"/api/sessions/{c['session_id']}/end")
        r = admin.call("GET", "/api/kefu/waiting")
        waiting = [w["customer_id"] for w in r.json()["data"]["waiting_customers"]
                   if w["customer_id"] in kehu] if r.status_code == 200 else []
        if waiting:
            sink = uid("sink")
            admin.call("POST", "/api/users/create", {"id": sink, "name": "sink",
                                                     "user_type": "kefu", "max_sessions": 1})
            for kehu_id in waiting:
                r = admin.call("POST", f"/api/customer/{kehu_id}/assign",
                               {"kefu_id": sink, "force": True})
                if r.status_code == 200:
                    admin.call("POST", f"/api/sessions/{r.json()['data']['session_id']}/end")


class WS:
    """A WebSocket client with a reader thread; ``expect`` waits on its queue."""

    def __init__(self, url: str, token: str | None, headers: list[str] | None = None) -> None:
        full = f"{url}?token={token}" if token else url
        self.sock = websocket.create_connection(full, timeout=10, header=headers or [])
        self.q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.sock.recv_data(control_frame=False)
            except Exception:  # noqa: BLE001 - socket closed
                self.q.put(None)
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                if len(data) >= 2:
                    self.close_code = int.from_bytes(data[:2], "big")
                self.q.put(None)
                return
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.q.put(json.loads(data))

    def send(self, **frame: Any) -> None:
        self.sock.send(json.dumps(frame))

    def expect(self, kind: str, timeout: float = 10.0,
               where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The next frame of ``kind`` (matching ``where``); others are kept in ``seen``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} frame within {timeout}s; seen: "
                                     f"{[f.get('type') for f in self.seen][-20:]}")
            try:
                frame = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if frame is None:
                raise AssertionError(f"socket closed ({self.close_code}) waiting for {kind!r}")
            self.seen.append(frame)
            if frame.get("type") == kind and (where is None or where(frame)):
                return frame

    def expect_one_of(self, kinds: tuple[str, ...], timeout: float = 10.0) -> dict[str, Any]:
        """The next frame whose type is any of ``kinds``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"none of {kinds} within {timeout}s")
            try:
                frame = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if frame is None:
                raise AssertionError(f"socket closed ({self.close_code}) waiting for {kinds}")
            self.seen.append(frame)
            if frame.get("type") in kinds:
                return frame

    def wait_closed(self, timeout: float = 10.0) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                frame = self.q.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if frame is None:
                return self.close_code
            self.seen.append(frame)
        raise AssertionError("socket did not close")

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                frame = self.q.get_nowait()
            except queue.Empty:
                return out
            if frame is not None:
                self.seen.append(frame)
                out.append(frame)

    def close(self) -> None:
        try:
            self.sock.close()
        except Exception:  # noqa: BLE001
            pass


RedisServer = RedisProcess  # a throwaway redis-server (kefu.testing)


class Monitor:
    """Every command Redis receives while it is open (MONITOR on a test client)."""

    START, END = "kefu-monitor-start", "kefu-monitor-end"

    def __init__(self, rs: RedisServer) -> None:
        self.rs = rs
        self.commands: list[tuple[int, str]] = []  # (db, command line)
        self.ready = threading.Event()

    def __enter__(self) -> Monitor:
        self.mon = self.rs.client().monitor()
        self.mon.__enter__()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()
        self.rs.client().echo(self.START)
        assert self.ready.wait(10)
        return self

    def _listen(self) -> None:
        for cmd in self.mon.listen():
            self.commands.append((int(cmd["db"]), cmd["command"]))
            if self.START in cmd["command"]:
                self.ready.set()
            if self.END in cmd["command"]:
                return

    def __exit__(self, *exc: object) -> None:
        self.rs.client().echo(self.END)
        self.thread.join(10)
        self.mon.__exit__(*exc)

    def names(self, db: int) -> set[str]:
        return {c.split(" ", 1)[0].upper() for d, c in self.commands if d == db}


def connect(server: ServerProcess, api: Api, sockets: list[WS]) -> WS:
    """A WebSocket for ``api``'s user, past its ``hello``; closed by the ``sockets`` fixture."""
    ws = WS(server.ws_url, api.token)
    ws.expect("hello")
    sockets.append(ws)
    return ws


@dataclass
class Pair:
    """A kefu and a kehu connected over WebSockets, in one active session."""

    kefu_id: str
    kefu: Api
    k: WS
    kehu_id: str
    kehu: Api
    c: WS
    sid: str

    def close(self) -> None:
        """End the session (if it is still active) and close both sockets, so the kehu is
        not re-queued once the agent's grace period ends: on a shared server the next test's
        new agent would be handed it."""
        self.kefu.call("POST", f"/api/sessions/{self.sid}/end")  # 409 if ended already
        self.c.close()
        self.k.close()


def open_pair(server: ServerProcess, admin: Api, max_sessions: int = 5) -> Pair:
    """A new kefu and guest, both connected; the guest asks for service and is assigned."""
    kefu_id, kefu = admin.create_kefu(max_sessions=max_sessions)
    k = WS(server.ws_url, kefu.token)
    k.expect("hello")
    kehu_id, kehu = admin.guest()
    c = WS(server.ws_url, kehu.token)
    c.expect("hello")
    c.send(type="request_service")
    sid = c.expect("assigned")["session"]["session_id"]
    k.expect("assigned")
    return Pair(kefu_id, kefu, k, kehu_id, kehu, c, sid)
