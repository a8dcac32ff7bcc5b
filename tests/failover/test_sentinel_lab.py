"""The Sentinel lab itself (``kefu/testing/sentinel.py``, ``kefu/testing/link.py``),
against real ``redis-server`` processes: replication through the link, holding the replica
behind the primary, a failover, and the loss the failover drill's negative control relies
on. One lab per test: each test changes who the primary is, or kills it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.testing.link import HoldableLink
from kefu.testing.sentinel import SentinelLab


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[SentinelLab]:
    lab = SentinelLab(tmp_path / "sentinel")
    try:
        yield lab.start()
    finally:
        lab.stop()


def wait_for(check: object, timeout: float, what: str) -> None:
    """Poll ``check()`` (a callable) until it is truthy, or fail after ``timeout``."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.02)  # polling a redis-server child process


def test_link_relays_holds_and_releases() -> None:
    """The link alone, over an echo server: held bytes arrive on release, in order."""
    server = socket.create_server(("127.0.0.1", 0))
    with server, HoldableLink(server.getsockname()) as link:
        client = socket.create_connection(("127.0.0.1", link.port), timeout=5)
        peer, _ = server.accept()
        with client, peer:
            client.sendall(b"ping")
            assert peer.recv(16) == b"ping"
            peer.sendall(b"a")
            assert client.recv(16) == b"a"
            link.hold()
            peer.sendall(b"bc")
            client.sendall(b"up")  # the client's side keeps flowing
            assert peer.recv(16) == b"up"
            wait_for(lambda: link.held_bytes() == 2, 5, "2 bytes held")
            client.settimeout(0.2)
            with pytest.raises(TimeoutError):
                client.recv(16)
            link.release()
            client.settimeout(5)
            assert client.recv(16) == b"bc"
            peer.close()  # one side closes: the other is closed
            assert client.recv(16) == b""
            wait_for(lambda: link.connections == 0, 5, "the connection forgotten")


def test_a_write_reaches_the_replica_unless_it_is_held(lab: SentinelLab) -> None:
    primary, replica = lab.primary_client(), lab.replica_client()
    assert lab.current_primary() == ("127.0.0.1", lab.primary_port)
    assert lab.sentinels_env == ",".join(f"127.0.0.1:{p}" for _, p in lab.sentinels)
    primary.set("k", "v")
    assert primary.wait(1, 2000) == 1
    assert replica.get("k") == "v"
    lab.hold_replica()
    primary.set("held", "v")
    assert primary.wait(1, 300) == 0
    assert replica.get("held") is None
    lab.release_replica()
    assert primary.wait(1, 2000) == 1
    assert replica.get("held") == "v"


def test_a_failover_promotes_the_replica_without_what_was_held(lab: SentinelLab) -> None:
    primary = lab.primary_client()
    primary.set("synced", "1")
    assert primary.wait(1, 2000) == 1
    lab.hold_replica()
    primary.set("unsynced", "1")  # acked by the primary only
    assert primary.wait(1, 300) == 0
    lab.drop_held()
    lab.kill_primary()
    assert lab.wait_failover(15) < 15
    assert lab.current_primary() == ("127.0.0.1", lab.replica_port)
    assert lab.promoted == lab.replica_port
    new = lab.replica_client()
    assert new.get("synced") == "1"
    assert new.get("unsynced") is None  # the loss the drill's negative control relies on
    new.set("after", "2")
    assert new.get("after") == "2"
