"""End-to-end fixtures: the real server process with its own embedded Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.message_corpus import Corpus, build_corpus
from tests.helpers import Api, ServerProcess, running

E2E_ENV = {"KEFU_AGENT_GRACE_SECONDS": "2", "KEFU_FAULT_INJECTION": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("srv")), **E2E_ENV) as srv:
        yield srv


@pytest.fixture()
def admin(server: ServerProcess) -> Api:
    return Api.login(server.base, "admin", "admin-pass")


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own (for tests that need an empty queue or kill it)."""
    with running(tmp_path / "srv", **E2E_ENV) as srv:
        yield srv


@pytest.fixture(scope="module")
def corpus(server: ServerProcess) -> Iterator[Corpus]:
    """A few thousand real messages on the module's server (message_corpus.py)."""
    c = build_corpus(server)
    yield c
    c.close()
