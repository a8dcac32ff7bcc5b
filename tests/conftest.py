"""Fixtures shared by every suite that starts real servers or opens real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import CREATED, WS, ServerProcess, clean_up

# Suites whose tests measure what happens under faults and timeouts (drills, the cluster,
# Sentinel failover): under pytest-xdist they all run on one worker, one after another.
ONE_AT_A_TIME = ("drills", "cluster", "failover")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for ``--dist loadgroup`` (scripts/test runs two pytest-xdist workers): the
    tests of one file stay together (a module's server starts once), and the suites in
    ONE_AT_A_TIME form one group, so no two fault drills ever run at once."""
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        group = "one-at-a-time" if parts[1:2] and parts[1] in ONE_AT_A_TIME else "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    """After each test, end the sessions of the agents it created and take its guests out
    of the queue (tests/helpers.py ``clean_up``): what a test leaves on a shared server
    must not reach the next one (issue 10, item 12)."""
    first = len(CREATED)
    yield
    made = CREATED[first:]
    del CREATED[first:]
    if made:
        clean_up(made)


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
