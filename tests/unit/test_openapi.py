"""The OpenAPI document is complete: every routed handler method carries ``@doc``, every
route is in the document, every ``$ref`` resolves, every non-public operation is secured."""

from __future__ import annotations

import re
import types
from typing import Any

import pytest

from kefu.config import Settings
from kefu.http.app import routes
from kefu.http.handlers.base import BaseHandler
from kefu.http.openapi import build, documented_methods, path_template, undocumented

Route = tuple[str, Any, dict[str, Any]]


@pytest.fixture(scope="module")
def table() -> list[Route]:
    state = types.SimpleNamespace(settings=Settings(fault_injection=True))
    return routes(state)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def document(table: list[Route]) -> dict[str, Any]:
    return build(table)


def documented_routes(table: list[Route]) -> list[tuple[str, str, Any]]:
    """(template path, method, ApiDoc) of every documented route method."""
    out = []
    for pattern, handler, _ in table:
        if getattr(handler, "openapi_skip", False):
            continue
        for method, func in documented_methods(handler):
            d = func.__openapi__
            out.append((path_template(pattern, d.path_params), method, d))
    return out


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_route_is_documented(table: list[Route]) -> None:
    assert undocumented(table) == []


def test_the_crash_drill_is_routed_and_documented_with_fault_injection(
        table: list[Route]) -> None:
    assert any(p.endswith("/crash") for p, _, _ in table)


def test_an_undocumented_route_is_reported(table: list[Route]) -> None:
    class Bare(BaseHandler):
        async def get(self) -> None:
            self.ok("ok", {})

        async def delete(self, thing: str) -> None:
            self.ok("ok", {"thing": thing})

    mutated = [*table, (r"/api/bare/([^/]+)", Bare, {})]
    assert undocumented(mutated) == ["GET /api/bare/([^/]+)", "DELETE /api/bare/([^/]+)"]
    assert undocumented(table) == []  # the copy, not the table, was changed


def test_document_is_openapi_31_with_every_route(table: list[Route],
                                                 document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    expected = documented_routes(table)
    assert len(expected) >= 40
    for path, method, _ in expected:
        assert method in document["paths"].get(path, {}), f"{method.upper()} {path}"
        assert "(" not in path and path.startswith("/api/")
        # every {name} in the path is declared as a path parameter, and nothing else
        op = document["paths"][path][method]
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), f"{method} {path}"
    documented = sum(len(ops) for ops in document["paths"].values())
    assert documented == len(expected)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_every_ref_resolves_within_components(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    found = refs(document)
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_non_public_operations_require_a_bearer_token(table: list[Route],
                                                      document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer"}
    public = set()
    for path, method, d in documented_routes(table):
        op = document["paths"][path][method]
        if d.roles:
            assert op["security"] == [{"bearerAuth": []}], f"{method} {path}"
            assert "401" in op["responses"]
        else:
            assert "security" not in op
            public.add(f"{method.upper()} {path}")
    assert public == {"POST /api/auth/login", "POST /api/auth/guest",
                      "POST /api/auth/identify", "GET /api/system/health",
                      "GET /api/widget/teams", "GET /api/widget/form"}


def test_every_operation_documents_its_reply(document: dict[str, Any]) -> None:
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert len(ok) == 1, f"{method} {path}"
            content = op["responses"][ok[0]]["content"]
            schema = content.get("application/json", {}).get("schema", {})
            if schema.get("type") == "array":  # a file's JSON variant (an export)
                assert "$ref" in schema["items"], f"{method} {path}: file items have no model"
            elif "application/json" in content:
                data = schema["properties"]["data"]
                assert "$ref" in data, f"{method} {path}: reply data has no model"


def test_query_models_are_documented_as_query_parameters(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in
              document["paths"]["/api/sessions/{session_id}/messages"]["get"]["parameters"]}
    assert params["limit"]["schema"]["default"] == 50
    assert params["include_system"]["schema"]["type"] == "boolean"
    assert params["page"]["schema"]["minimum"] == 1
