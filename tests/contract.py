"""Shared assertions about the REST contract: the error envelope and secret-looking keys."""

from __future__ import annotations

import re
from typing import Any

import httpx

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ERROR_KEYS = {"success", "message", "error_code", "timestamp"}
SECRET_WORDS = ("pass", "salt", "hash", "pw_")


def assert_error(r: httpx.Response, status: int, error: str | None = None,
                 details: tuple[str, ...] = ()) -> dict[str, Any]:
    """Exactly the error envelope (HTTP status == error_code, ISO Z timestamp, no stack
    trace); ``error`` is the i18n key when given; ``details`` names the given fields."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"details", "error", "data"}, body
    assert body["success"] is False
    assert body["error_code"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in r.text
    assert ISO_Z.match(body["timestamp"]), body["timestamp"]
    if error is not None:
        assert body.get("error") == error, body
    for field in details:
        assert field in body.get("details", {}), body
        assert isinstance(body["details"][field], str) and body["details"][field]
    return body


def secret_keys(obj: Any, path: str = "") -> list[str]:
    """Every key, at any depth, that looks like password material."""
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if any(w in str(k).lower() for w in SECRET_WORDS):
                found.append(f"{path}.{k}")
            found += secret_keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += secret_keys(v, f"{path}[{i}]")
    return found
