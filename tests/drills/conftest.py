"""Drill fixtures: real servers (each drill starts its own), stopped even on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import WS, ServerProcess


@pytest.fixture()
def spawned() -> Iterator[list[ServerProcess]]:
    """Servers a drill starts (append them): stopped afterwards, even on failure."""
    servers: list[ServerProcess] = []
    yield servers
    for srv in servers:
        srv.stop()


@pytest.fixture()
def sockets() -> Iterator[list[WS]]:
    """WebSockets a drill opens (append them): closed afterwards."""
    opened: list[WS] = []
    yield opened
    for ws in opened:
        ws.close()
