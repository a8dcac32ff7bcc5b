"""The WebSocket handshake: a token is required (4401), browsers from other sites are
refused with 403 (cross-site WebSocket hijacking), and a frame over the size limit closes
the socket with 1009 while the server carries on."""

from __future__ import annotations

import contextlib
import json
import struct

import httpx
import pytest
import websocket

from tests.helpers import WS, Api, ServerProcess
from tests.security.conftest import ALLOWED


def connect(server: ServerProcess, token: str | None, **kw: object) -> websocket.WebSocket:
    url = f"{server.ws_url}?token={token}" if token else server.ws_url
    return websocket.create_connection(url, timeout=10, **kw)


def hello(ws: websocket.WebSocket) -> dict[str, object]:
    frame = json.loads(ws.recv())
    assert frame["type"] == "hello", frame
    return frame


@pytest.mark.parametrize("token", [None, "", "not-a-token", "x" * 500])
def test_no_or_bad_token_is_closed_4401(server: ServerProcess, token: str | None) -> None:
    ws = WS(server.ws_url, token)
    assert ws.wait_closed() == 4401
    assert [f for f in ws.seen if f.get("type") == "hello"] == []


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1.evil.example",
                                    "https://shop.example.com.evil.example", "null",
                                    "http://localhost"])
def test_cross_site_origin_is_refused_403(server: ServerProcess, admin: Api,
                                          origin: str) -> None:
    """A page on another site cannot ride a visitor's token into a socket."""
    _, kehu = admin.guest()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(server, kehu.token, origin=origin)
    assert refused.value.status_code == 403


@pytest.mark.parametrize("origin", ["same-host", *ALLOWED, ALLOWED[0].upper() + "/"])
def test_same_host_and_allowed_origins_connect(server: ServerProcess, admin: Api,
                                               origin: str) -> None:
    _, kehu = admin.guest()
    if origin == "same-host":
        origin = server.base
    ws = connect(server, kehu.token, origin=origin)
    try:
        assert hello(ws)["user"]["user_type"] == "kehu"  # type: ignore[index]
    finally:
        ws.close()


def test_no_origin_non_browser_client_connects(server: ServerProcess, admin: Api) -> None:
    _, kehu = admin.guest()
    ws = connect(server, kehu.token, suppress_origin=True)
    try:
        hello(ws)
    finally:
        ws.close()
    # ... but still needs its token
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(server, kehu.token, origin="https://evil.example", suppress_origin=False)
    assert refused.value.status_code == 403


def health(server: ServerProcess) -> dict[str, object]:
    r = httpx.get(server.base + "/api/system/health", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def still_served(server: ServerProcess, token: str | None) -> None:
    """Healthy, and the same user connects and is answered."""
    health(server)
    again = WS(server.ws_url, token)
    try:
        again.expect("hello")
        again.send(type="ping")
        again.expect("pong")
    finally:
        again.close()


def test_oversize_frame_closes_1009_and_server_stays_healthy(server: ServerProcess,
                                                            admin: Api) -> None:
    _, kehu = admin.guest()
    ws = WS(server.ws_url, kehu.token)
    limit = ws.expect("hello")["limits"]["max_frame_bytes"]
    assert limit == 64 * 1024  # KEFU_MAX_FRAME_BYTES, not Tornado's 10 MiB default
    # just under the limit is a frame like any other (here: too long a text → error)
    ws.send(type="message", client_msg_id="big-ok", content="x" * (limit - 200))
    assert ws.expect("error")["code"] == "content_too_long"
    # a frame announcing limit + 1 bytes: refused on its header, before any payload is
    # read (only the header is sent, so the close frame cannot be lost to a reset)
    ws.sock.sock.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, limit + 1))
    assert ws.wait_closed() == 1009
    still_served(server, kehu.token)
    # a whole oversize frame: 1009, or a reset if the teardown overtakes the close frame
    # (docs/protocol.md §7) — and the server carries on
    ws = WS(server.ws_url, kehu.token)
    ws.expect("hello")
    with contextlib.suppress(OSError):
        ws.sock.send("x" * (limit + 1))
    assert ws.wait_closed() in (1009, None)
    ws.close()
    still_served(server, kehu.token)
