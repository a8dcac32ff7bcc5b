"""Fixtures shared by every suite that starts real servers or opens real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import WS, ServerProcess


@pytest.fixture()
def sockets() -> Iterator[list[WS]]:
    """WebSockets a test opens (append them); all closed afterwards."""
    opened: list[WS] = []
    yield opened
    for ws in opened:
        ws.close()


@pytest.fixture()
def spawned() -> Iterator[list[ServerProcess]]:
    """Servers a test starts itself (append them): stopped afterwards, even on failure."""
    servers: list[ServerProcess] = []
    yield servers
    for srv in servers:
        srv.stop()
