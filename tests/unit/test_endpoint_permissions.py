"""Issue 16, permissions: every routed REST method declares the permission it needs (or
``none``) in ``kefu/http/endpoint_permissions.py``; the catalogue's semantics."""

from __future__ import annotations

import types
from typing import Any

import pytest

from kefu.config import Settings
from kefu.domain import UserType
from kefu.http.app import routes
from kefu.http.endpoint_permissions import ENDPOINTS, endpoint_key
from kefu.http.frame_permissions import FRAMES
from kefu.http.openapi import build, documented_methods
from kefu.permissions import BY_NAME, NONE, defaults, effective, problems

Route = tuple[str, Any, dict[str, Any]]


@pytest.fixture(scope="module")
def table() -> list[Route]:
    state = types.SimpleNamespace(settings=Settings(fault_injection=True))
    return routes(state)  # type: ignore[arg-type]


def routed_keys(table: list[Route]) -> set[str]:
    return {endpoint_key(handler, method) for _, handler, _ in table
            if not getattr(handler, "openapi_skip", False)
            for method, _ in documented_methods(handler)}


def test_every_endpoint_declares_a_permission(table: list[Route]) -> None:
    missing = sorted(routed_keys(table) - ENDPOINTS.keys())
    assert missing == [], f"add these to kefu/http/endpoint_permissions.py: {missing}"


def test_every_declaration_is_known_and_routed(table: list[Route]) -> None:
    unknown = {k: v for k, v in ENDPOINTS.items() if v != NONE and v not in BY_NAME}
    assert unknown == {}
    assert sorted(ENDPOINTS.keys() - routed_keys(table)) == []  # no stale entry
    assert all(v in BY_NAME for v in FRAMES.values())


def test_openapi_shows_the_permission(table: list[Route]) -> None:
    paths = build(table)["paths"]
    op = paths["/api/sessions/{session_id}/transfer"]["post"]
    assert op["x-permission"] == "transfer" and "Permission: `transfer`" in op["description"]
    assert "x-permission" not in paths["/api/sessions/list"]["get"]


def test_defaults_reproduce_the_roles() -> None:
    admin, kefu, kehu = (set(defaults(t)) for t in (UserType.ADMIN, UserType.KEFU,
                                                    UserType.KEHU))
    assert admin == set(BY_NAME)  # an admin can do everything by default
    assert kefu == {"transfer", "end", "take", "notes"}
    assert kehu == {"end"}
    # every permission an endpoint's roles need by default is among that role's defaults
    for name, p in BY_NAME.items():
        assert set(p.defaults) <= set(p.grantable), name


def test_effective_and_problems() -> None:
    kefu, kehu, admin = UserType.KEFU, UserType.KEHU, UserType.ADMIN
    assert effective("a1", kefu, None) == defaults(kefu)
    assert effective("a1", kefu, []) == []
    assert effective("a1", kefu, ["analytics", "transfer"]) == ["transfer", "analytics"]
    assert effective("a1", kefu, ["redis", "bogus"]) == []  # never beyond the role
    assert effective("k1", kehu, ["transfer", "analytics"]) == ["end"]  # fixed
    assert effective("admin", admin, []) == ["users"]  # no lock-out
    assert effective("admin2", admin, []) == []
    assert problems("a1", kefu, ["transfer", "analytics"]) == {}
    bad = problems("a1", kefu, ["transfer", "bogus", "redis"])
    assert set(bad) == {"permissions.1", "permissions.2"} and "bogus" in bad["permissions.1"]
    assert "permissions" in problems("k1", kehu, ["end"])
    assert "permissions" in problems("admin", admin, ["system"])
