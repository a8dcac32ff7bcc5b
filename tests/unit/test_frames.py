"""The hand-built text frames of kefu/http/frames.py follow RFC 6455 §5.2."""

import struct

import pytest

from kefu.http.frames import text_frame


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
