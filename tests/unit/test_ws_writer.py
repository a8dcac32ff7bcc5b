"""The hand-built text frames of kefu/http/ws_writer.py follow RFC 6455 §5.2."""

import asyncio
import struct
import threading

import pytest
import websocket
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketHandler

from kefu.http.ws_writer import text_frame, write_text


def decode(frame: bytes) -> tuple[int, bytes]:
    """(first byte, payload) of one unmasked frame, checking its length field."""
    first, second = frame[0], frame[1]
    assert second & 0x80 == 0, "server frames are never masked"
    n, at = second & 0x7F, 2
    if n == 126:
        (n,), at = struct.unpack("!H", frame[2:4]), 4
    elif n == 127:
        (n,), at = struct.unpack("!Q", frame[2:10]), 10
    assert len(frame) == at + n
    return first, frame[at:]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_every_length_encoding_round_trips(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    first, body = decode(text_frame(payload))
    assert first == 0x81  # FIN + text
    assert body == payload


def test_the_shortest_length_form_is_used() -> None:
    assert len(text_frame(b"x" * 125)) == 2 + 125
    assert len(text_frame(b"x" * 126)) == 4 + 126
    assert len(text_frame(b"x" * 65536)) == 10 + 65536


def test_frames_larger_than_the_socket_buffer_arrive_whole_and_in_order() -> None:
    """A reader that does not read while 200 frames of 60 KB are written: the kernel takes
    part of one, IOStream queues the rest, and every later frame queues behind it."""
    written = threading.Event()
    payloads = [(f"{i:04d}" + "x" * 60_000).encode() for i in range(200)]

    class Flood(WebSocketHandler):
        def open(self) -> None:
            for p in payloads:
                assert write_text(self, p)
            written.set()

    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    ready = threading.Event()
    holder: dict[str, object] = {}

    def serve() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        server = HTTPServer(Application([("/ws", Flood)]))
        server.add_sockets(sockets)
        holder["loop"] = IOLoop.current()
        ready.set()
        IOLoop.current().start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=10)
    try:
        assert written.wait(10)  # all 200 written (most of them queued) before any read
        got = [ws.recv() for _ in payloads]
        assert [g.encode() for g in got] == payloads
    finally:
        ws.close()
        loop = holder["loop"]
        loop.add_callback(loop.stop)  # type: ignore[attr-defined]
        thread.join(5)
