"""What one client can make the server hold is bounded (issue 10, items 5 and 11): header
and idle timeouts, sockets per user and per address, a frame budget per connection, the
TCP connection ceiling, 431 for oversized headers, the client's real address behind a
trusted proxy, no version banner, and a public health page without internals."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import WS, Api, ServerProcess, clear_of_minute_end, connect

FRAME_RATES = ("message:10,read:10,typing:4,resume:2,request_service:1,switch:5,rate:1,"
               "ping:2,invalid:5")
LIMITS = {"KEFU_HTTP_HEADER_TIMEOUT_SECONDS": "1", "KEFU_WS_MAX_PER_USER": "3",
          "KEFU_WS_MAX_PER_ADDRESS": "6", "KEFU_WS_FRAME_RATES": FRAME_RATES,
          "KEFU_WS_FLOOD_STRIKES": "20", "KEFU_TRUSTED_PROXIES": "127.0.0.1",
          "KEFU_GUEST_RATE_PER_MINUTE": "3"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(Path(tmp_path_factory.mktemp("limits")), **LIMITS).start()
    yield srv
    srv.stop()


@pytest.fixture()
def admin(server: ServerProcess) -> Api:
    return Api.login(server.base, "admin", "admin-pass")


_visitors = itertools.count(1)


def new_guest(server: ServerProcess) -> Api:
    """A guest from an address of its own (the guest limit here is 3 per address)."""
    r = httpx.post(server.base + "/api/auth/guest", json={},
                   headers={"X-Forwarded-For": f"192.0.2.{next(_visitors)}"})
    assert r.status_code == 200, r.text
    return Api(server.base, r.json()["data"]["token"])


def raw(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def kept_alive(server: ServerProcess) -> socket.socket:
    """A connection the server has accepted and served once, left open (keep-alive)."""
    s = raw(server)
    s.sendall(b"GET /api/system/health HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += s.recv(4096)
    return s


def closed_within(s: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``s`` (reading EOF); fails past ``seconds``."""
    started = time.monotonic()
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
    except TimeoutError as exc:
        raise AssertionError(f"still open after {seconds} s") from exc
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_slow_headers_and_silent_connections_are_closed(server: ServerProcess) -> None:
    silent, slow = raw(server), raw(server)
    slow.sendall(b"GET /api/system/health HTTP/1.1\r\nHost: x\r\n")  # never finished
    assert closed_within(silent, 5) < 3
    assert closed_within(slow, 5) < 3
    silent.close()
    slow.close()


def test_sockets_per_user_and_per_address(server: ServerProcess, admin: Api,
                                          sockets: list[WS]) -> None:
    a = new_guest(server)
    for _ in range(3):
        connect(server, a, sockets)
    extra = WS(server.ws_url, a.token)
    sockets.append(extra)
    assert extra.wait_closed() == 1008  # the 4th of one user, before any hello
    assert not [f for f in extra.seen if f["type"] == "hello"]
    b = new_guest(server)
    for _ in range(3):
        connect(server, b, sockets)
    c = new_guest(server)
    seventh = WS(server.ws_url, c.token)
    sockets.append(seventh)
    assert seventh.wait_closed() == 1008  # the 7th from 127.0.0.1
    # behind the trusted proxy (127.0.0.1) each visitor is its own address
    for i in range(2):
        ws = WS(server.ws_url, c.token, headers=[f"X-Forwarded-For: 198.51.100.{i + 1}"])
        sockets.append(ws)
        ws.expect("hello")
    for ws in sockets:
        ws.close()


def test_a_frame_flood_is_refused_then_closed(server: ServerProcess, admin: Api,
                                              sockets: list[WS]) -> None:
    guest = new_guest(server)
    ws = connect(server, guest, sockets)
    for _ in range(9):  # ping: 2 per second, a burst of 6
        ws.send(type="ping")
    pongs = [ws.expect_one_of(("pong", "error")) for _ in range(7)]
    assert [f["type"] for f in pongs] == ["pong"] * 6 + ["error"]
    assert pongs[-1]["code"] == "rate_limited" and pongs[-1]["retry_after"] >= 1
    time.sleep(0.6)  # the budget refills at 2 per second (a clock, not an actor)
    ws.send(type="ping")
    ws.expect("pong")  # refused frames cost nothing lasting: the socket carries on
    for _ in range(100):  # a sustained flood: 20 strikes, then the door
        ws.send(type="ping")
    assert ws.wait_closed() == 1008
    errors = [f for f in ws.seen if f["type"] == "error"]
    assert len(errors) == 2  # one per empty spell, not one per refused frame


def test_invalid_frames_have_a_budget_too(server: ServerProcess, admin: Api,
                                          sockets: list[WS]) -> None:
    guest = new_guest(server)
    ws = connect(server, guest, sockets)
    for _ in range(200):
        ws.sock.send("{not json")
    assert ws.wait_closed() == 1008
    codes = [f["code"] for f in ws.seen if f["type"] == "error"]
    # a burst of 15 (5 per second), told once, closed after 20 strikes; a token or two may
    # come back while the 200 frames are read
    assert codes[:16] == ["invalid_json"] * 15 + ["rate_limited"]
    assert len(codes) < 30, codes


def test_oversized_headers_get_431_and_no_banner(server: ServerProcess) -> None:
    r = httpx.get(server.base + "/api/system/health", headers={"X-Big": "a" * 70_000})
    assert r.status_code == 431
    body = r.json()
    assert body["success"] is False and body["error_code"] == 431
    en = httpx.get(server.base + "/api/nope", headers={"X-Big": "a" * 40_000,
                                                      "Accept-Language": "en"})
    assert en.status_code == 431 and en.json()["message"] == "Request header fields too large"
    for path in ("/api/system/health", "/api/nope", "/console", "/api/docs"):
        assert "server" not in httpx.get(server.base + path).headers, path


def test_public_health_shows_no_internals(server: ServerProcess, admin: Api) -> None:
    public = httpx.get(server.base + "/api/system/health").json()["data"]
    assert set(public) == {"status", "maintenance", "timestamp"}
    full = admin.ok("GET", "/api/system/health")
    assert {"version", "uptime_seconds", "redis", "actors", "connections"} <= set(full)
    guest = new_guest(server)
    assert set(guest.ok("GET", "/api/system/health")) == set(public)  # not an admin


def test_guest_limit_and_audit_use_the_forwarded_address(server: ServerProcess,
                                                         admin: Api) -> None:
    def guest(xff: str) -> int:
        return httpx.post(server.base + "/api/auth/guest", json={},
                          headers={"X-Forwarded-For": xff}).status_code

    clear_of_minute_end()  # (seen once: the 4th guest counted in the next window)
    assert [guest("198.51.100.20") for _ in range(4)] == [200, 200, 200, 429]
    assert guest("198.51.100.21") == 200  # another visitor behind the same proxy
    assert guest("198.51.100.21, 198.51.100.20") == 429  # the last untrusted hop counts
    admin.ok("PUT", "/api/system/maintenance", {"enabled": False},
             headers={"X-Forwarded-For": "203.0.113.77"})
    entry = admin.ok("GET", "/api/admin/audit", params={"limit": 1})["entries"][0]
    assert entry["action"] == "PUT /api/system/maintenance" and entry["ip"] == "203.0.113.77"


def test_the_connection_ceiling_holds(tmp_path: Path, spawned: list[ServerProcess]) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_MAX_CONNECTIONS="20",
                        KEFU_HTTP_HEADER_TIMEOUT_SECONDS="30").start()
    spawned.append(srv)
    idle = [kept_alive(srv) for _ in range(20)]
    over = raw(srv)
    assert closed_within(over, 5) < 1  # accepted and closed at once
    for s in idle:
        s.close()
    deadline = time.monotonic() + 10
    while True:  # the ceiling frees as soon as the idle ones are gone
        try:
            if httpx.get(srv.base + "/api/system/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.05)  # polling a child process
