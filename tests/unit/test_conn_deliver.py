"""Conn.deliver: once per seq, buffered while resuming (kefu/http/connections.py)."""

from __future__ import annotations

from kefu.http.connections import Conn


class RecordingSocket:
    """A plain implementation of the Socket protocol that records what is sent."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int | None, str | None] | None = None

    def send_frame(self, data: bytes) -> None:
        self.frames.append(data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed = (code, reason)


def make_conn() -> tuple[Conn, RecordingSocket]:
    sock = RecordingSocket()
    return Conn(1, "u1", "kehu", sock), sock


def test_delivers_new_seq():
    conn, sock = make_conn()
    conn.deliver("u1:k1", 1, b"m1")
    assert sock.frames == [b"m1"]
    assert conn.tracker("u1:k1").has(1)


def test_skips_seq_already_delivered():
    conn, sock = make_conn()
    conn.deliver("u1:k1", 1, b"m1")
    conn.deliver("u1:k1", 1, b"m1-again")
    assert sock.frames == [b"m1"]


def test_skips_seq_below_tracker_floor():
    conn, sock = make_conn()
    conn.tracker("u1:k1").raise_floor(5)
    conn.deliver("u1:k1", 3, b"old")
    conn.deliver("u1:k1", 6, b"new")
    assert sock.frames == [b"new"]


def test_out_of_order_seqs_each_delivered_once():
    conn, sock = make_conn()
    for seq in (2, 1, 2, 3, 1):
        conn.deliver("u1:k1", seq, f"m{seq}".encode())
    assert sock.frames == [b"m2", b"m1", b"m3"]
    assert conn.tracker("u1:k1").floor == 3


def test_sessions_tracked_separately():
    conn, sock = make_conn()
    conn.deliver("u1:k1", 1, b"a1")
    conn.deliver("u1:k2", 1, b"b1")
    assert sock.frames == [b"a1", b"b1"]


def test_buffers_while_resuming():
    conn, sock = make_conn()
    conn.resuming["u1:k1"] = []
    conn.deliver("u1:k1", 4, b"m4")
    conn.deliver("u1:k1", 5, b"m5")
    assert sock.frames == []
    assert conn.resuming["u1:k1"] == [(4, b"m4"), (5, b"m5")]
    assert not conn.tracker("u1:k1").has(4)  # not marked delivered while buffered


def test_resuming_one_session_does_not_buffer_another():
    conn, sock = make_conn()
    conn.resuming["u1:k1"] = []
    conn.deliver("u1:k2", 1, b"other")
    conn.deliver("u1:k1", 1, b"held")
    assert sock.frames == [b"other"]
    assert conn.resuming["u1:k1"] == [(1, b"held")]


def test_delivers_again_once_resume_finishes():
    conn, sock = make_conn()
    conn.resuming["u1:k1"] = []
    conn.deliver("u1:k1", 1, b"held")
    del conn.resuming["u1:k1"]
    conn.deliver("u1:k1", 2, b"m2")
    assert sock.frames == [b"m2"]


def test_tracker_is_created_once_per_session():
    conn, _ = make_conn()
    assert conn.tracker("s") is conn.tracker("s")
    assert conn.tracker("s") is not conn.tracker("t")
