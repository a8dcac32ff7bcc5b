"""End-to-end fixtures: the real server process with its own embedded Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Api, ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(Path(tmp_path_factory.mktemp("srv")), KEFU_AGENT_GRACE_SECONDS="2",
                        KEFU_FAULT_INJECTION="1")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture()
def admin(server: ServerProcess) -> Api:
    return Api.login(server.base, "admin", "admin-pass")


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own (for tests that need an empty queue or kill it)."""
    srv = ServerProcess(tmp_path / "srv", KEFU_AGENT_GRACE_SECONDS="2", KEFU_FAULT_INJECTION="1")
    srv.start()
    yield srv
    srv.stop()
