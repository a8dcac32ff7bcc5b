"""End-to-end fixtures: the real server process with its own embedded Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.message_corpus import Corpus, build_corpus
from tests.helpers import WS, Api, ServerProcess, connect, running, uid

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


@pytest.fixture()
def teams(admin: Api) -> Iterator[list[str]]:
    """Team ids a test creates (append them): deleted afterwards."""
    made: list[str] = []
    yield made
    for team_id in made:
        admin.call("DELETE", f"/api/teams/{team_id}")


def new_team(admin: Api, teams: list[str], members: dict[str, int],
             **settings: object) -> str:
    team_id = uid("t").lower().replace(".", "-")[:30]
    admin.ok("POST", "/api/teams", {"id": team_id, "name": f"组 {team_id}", **settings})
    teams.append(team_id)
    for kefu_id, skill in members.items():
        admin.ok("PUT", f"/api/teams/{team_id}/members/{kefu_id}", {"skill": skill})
    return team_id


def customer(server: ServerProcess, admin: Api, sockets: list[WS],
             name: str = "访客") -> tuple[str, Api, WS]:
    kehu_id, kehu = admin.guest(name)
    return kehu_id, kehu, connect(server, kehu, sockets)
