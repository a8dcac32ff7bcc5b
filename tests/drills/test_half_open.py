"""Drill 5: half-open sockets. A peer that completed the WebSocket handshake and then went
silent — a raw TCP socket that never reads again and never answers a ping, like a phone
that lost its radio or a frozen process — is dropped by Tornado's pings
(``KEFU_WS_PING_INTERVAL`` / ``KEFU_WS_PING_TIMEOUT``) within a bounded time. Its
connection is released (health's connection count back to the baseline, the peer told
``presence: offline``), and its actor state is intact: the session stays active, messages
sent meanwhile are stored, and the user who comes back resumes them exactly once."""

from __future__ import annotations

import base64
import os
import socket
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers import WS, Api, ServerProcess, open_pair

PING = 0.5  # seconds: interval and timeout


class DeadPeer:
    """A WebSocket client that does the handshake, then never reads or answers again."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?token={quote(token)} HTTP/1.1\r\n"
                           f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)  # byte by byte: leave the frames unread
        assert head.startswith(b"HTTP/1.1 101"), head

    def close(self) -> None:
        self.sock.close()


def connections(admin: Api) -> int:
    return int(admin.call("GET", "/api/system/health").json()["data"]["connections"]
               ["connections"])


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_silent_peers_are_dropped_and_their_state_kept(tmp_path: Path,
                                                       spawned: list[ServerProcess]) -> None:
    """A silent kehu (of one pair) and a silent kefu (of another) at the same time."""
    srv = ServerProcess(tmp_path / "srv", KEFU_WS_PING_INTERVAL=str(PING),
                        KEFU_WS_PING_TIMEOUT=str(PING), KEFU_AGENT_GRACE_SECONDS="600").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    cases = []
    for dead_side in ("kehu", "kefu"):
        p = open_pair(srv, admin)
        live, gone = (p.k, p.c) if dead_side == "kehu" else (p.c, p.k)
        dead_api, dead_id = (p.kehu, p.kehu_id) if dead_side == "kehu" else (p.kefu, p.kefu_id)
        gone.close()  # its own clean connection goes; a dead one takes its place
        live.expect("presence",
                    where=lambda f, d=dead_id: f["user_id"] == d and f["status"] == "offline")
        cases.append((dead_side, p, live, dead_api, dead_id))
    baseline = connections(admin)

    dead, stored = [], {}
    for dead_side, p, live, dead_api, dead_id in cases:
        dead.append(DeadPeer(srv.port, dead_api.token or ""))
        live.expect("presence",
                    where=lambda f, d=dead_id: f["user_id"] == d and f["status"] == "online")
        live.send(type="message", client_msg_id="while-dead", content="你还在吗？",
                  **({"session_id": p.sid} if dead_side == "kehu" else {}))
        stored[dead_side] = live.expect("ack")["message"]
    assert connections(admin) == baseline + 2
    went_silent = time.monotonic()
    # the pings find them: dropped, and their peers are told
    for dead_side, _p, live, _api, dead_id in cases:
        live.expect("presence", timeout=30,
                    where=lambda f, d=dead_id: f["user_id"] == d and f["status"] == "offline")
        print(f"\n{dead_side}: silent peer dropped after {time.monotonic() - went_silent:.1f}s "
              f"(ping interval and timeout {PING}s; Tornado then waits 5 s for a close frame)")
    assert connections(admin) == baseline
    for peer in dead:
        peer.close()

    # their state is intact: the sessions are still active, nothing was lost
    for dead_side, p, live, dead_api, _id in cases:
        session = admin.ok("GET", f"/api/sessions/{p.sid}")["session"]
        assert session["status"] == "active" and session["message_count"] == 1
        back = WS(srv.ws_url, dead_api.token)
        hello = back.expect("hello")
        assert [s["session_id"] for s in hello["sessions"]] == [p.sid]
        back.send(type="resume", since={p.sid: 0})
        assert back.expect("message")["message"]["id"] == stored[dead_side]["id"]
        assert back.expect("resumed")["count"] == 1
        for ws in (back, live):
            ws.close()
