"""The few REST calls a drill makes to set itself up (stdlib only, blocking)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class RestError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body[:300]}")
        self.status = status


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None,
         timeout: float = 30.0) -> Any:
    """One request; returns ``data`` of the envelope, raises :class:`RestError` otherwise."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())["data"]
    except urllib.error.HTTPError as exc:
        raise RestError(exc.code, exc.read().decode(errors="replace")) from exc


def login(base: str, user_id: str, password: str) -> str:
    return str(call(base, "POST", "/api/auth/login",
                    {"user_id": user_id, "password": password})["token"])


def create_kefu(base: str, admin: str, kefu_id: str, max_sessions: int) -> str:
    """A kefu user; returns its token."""
    call(base, "POST", "/api/users/create", {"id": kefu_id, "name": kefu_id, "user_type": "kefu",
                                             "password": "drill-pw",
                                             "max_sessions": max_sessions}, admin)
    return login(base, kefu_id, "drill-pw")


def guest(base: str, name: str) -> tuple[str, str]:
    """A new guest kehu → (user id, token)."""
    data = call(base, "POST", "/api/auth/guest", {"name": name})
    return str(data["user"]["id"]), str(data["token"])
