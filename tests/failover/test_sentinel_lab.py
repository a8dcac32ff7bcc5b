"""The holdable link of the Sentinel lab (``kefu/testing/link.py``), over plain sockets.

The lab as a whole — replication through the link, the replica held behind and caught up
again, a failover, the loss of what was held — is proven by the tests that use it:
``test_sentinel_server.py`` (the replica lacks a held message and gets it on release; a
lease written while held is gone after the failover) and the failover drill's negative
control (``tests/drills/test_failover_drill.py``: acked messages lost)."""

from __future__ import annotations

import socket
import time

import pytest

from kefu.testing.link import HoldableLink


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

