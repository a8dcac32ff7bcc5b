"""A three-node cluster on one Redis, with HAProxy in front (``kefu/testing/cluster.py``):
one per module; the tests make their own users, as everywhere (tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kefu.testing.cluster import ClusterLab, find_haproxy
from tests.helpers import Api


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterLab]:
    lab = ClusterLab(Path(tmp_path_factory.mktemp("cluster")), size=3,
                     haproxy=find_haproxy() is not None,
                     env={"KEFU_AGENT_GRACE_SECONDS": "2"})
    try:
        lab.start()
        # every node healthy: each has learnt where the dispatcher runs (read once per
        # lease round), so a test that starts at once does not meet a 503 health
        deadline = time.monotonic() + 15
        while not all(httpx.get(base + "/api/system/health").status_code == 200
                      for base in lab.bases):
            assert time.monotonic() < deadline, "a node never became healthy"
            time.sleep(0.1)  # polling the nodes over HTTP
        yield lab
    finally:
        lab.stop()


@pytest.fixture()
def admins(lab: ClusterLab) -> list[Api]:
    """An admin client per node."""
    return [Api.login(base, "admin", "admin-pass") for base in lab.bases]
