"""Writing already-encoded text frames to a Tornado WebSocket without a Task per frame.

``WebSocketHandler.write_message`` wraps every frame in a coroutine and an asyncio Task so
that awaiting it is optional; on the chat path (an ack and a delivery per message) that
wrapper cost more than the frame itself. Our frames are JSON encoded once on the actor or
writer thread, never compressed and never awaited, so :func:`write_text` builds the
RFC 6455 header itself and sends header + payload in one ``send`` on the socket when the
``IOStream`` has nothing queued (what ``IOStream.write_to_fd`` does, without the Future
and callbacks ``IOStream.write`` makes per call); whatever the kernel does not take, and
every frame while earlier bytes wait, goes through ``IOStream.write`` so the order holds.
Anything unusual (compression negotiated, TLS, a client-side connection, a Tornado whose
internals differ) falls back to ``write_message``. Loop thread only.
"""

from __future__ import annotations

import struct
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)


def text_frame(payload: bytes) -> bytes:
    """An unmasked (server → client) RFC 6455 text frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", _FIN_TEXT, n) + payload
    if n <= 0xFFFF:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload


def _raw_stream(handler: WebSocketHandler) -> IOStream | None:
    """The connection's plain (not TLS) IOStream if frames may be written to it directly."""
    proto = handler.ws_connection
    if proto is None or getattr(proto, "_compressor", True) is not None:
        return None
    if getattr(proto, "mask_outgoing", True):
        return None
    stream = getattr(proto, "stream", None)
    return stream if type(stream) is IOStream else None


def write_text(handler: WebSocketHandler, payload: bytes) -> bool:
    """Send ``payload`` as one text frame; False if the connection is gone. Loop thread."""
    stream = _raw_stream(handler)
    try:
        if stream is None:
            handler.write_message(payload)
            return True
        if stream.closed():
            return False
        data = text_frame(payload)
        proto: Any = handler.ws_connection
        proto._message_bytes_out += len(payload)  # noqa: SLF001 - Tornado's own counters
        proto._wire_bytes_out += len(data)  # noqa: SLF001
        sent = 0
        if not stream.writing():
            # nothing queued before us: try the socket itself (what IOStream.write_to_fd
            # does), skipping the Future and callbacks IOStream.write makes per call
            try:
                sent = stream.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # let IOStream meet the error and close the stream its own way
        if sent < len(data):
            stream.write(memoryview(data)[sent:] if sent else data)
        return True
    except (StreamClosedError, WebSocketClosedError):
        return False
