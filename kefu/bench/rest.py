"""The REST calls the benchmarks make: log in, create agents and guests in parallel (there
is no bulk path: one ``POST /api/users/create`` and one login per agent, each hashing a
password with scrypt on the server), list sessions, and a keep-alive client for timing
read endpoints.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def post(base: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    """POST JSON, return the envelope's ``data`` (raises on an HTTP error)."""
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["data"]


def get(base: str, path: str, token: str | None = None,
        params: dict[str, Any] | None = None) -> Any:
    """GET, return the envelope's ``data``."""
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["data"]


def admin_token(base: str, password: str = "bench") -> str:
    return post(base, "/api/auth/login", {"user_id": "admin", "password": password})["token"]


def create_agents(base: str, admin: str, ids: list[str], max_sessions: int,
                  threads: int = 16) -> list[str]:
    """Create kefu users ``ids`` and log each in → their tokens, in order."""

    def one(kid: str) -> str:
        post(base, "/api/users/create", {"id": kid, "name": kid, "user_type": "kefu",
                                         "password": "pw", "max_sessions": max_sessions}, admin)
        return post(base, "/api/auth/login", {"user_id": kid, "password": "pw"})["token"]

    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, ids))


def create_guests(base: str, n: int, threads: int = 16) -> list[tuple[str, str]]:
    """``n`` guests (``POST /api/auth/guest``) → ``(user id, token)`` pairs."""

    def one(i: int) -> tuple[str, str]:
        data = post(base, "/api/auth/guest", {"name": f"g{i}"})
        return data["user"]["id"], data["token"]

    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, range(n)))


def list_sessions(base: str, admin: str, status: str = "active") -> list[dict[str, Any]]:
    """Every session with ``status`` (``GET /api/sessions/list``, 200 a page)."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = get(base, "/api/sessions/list", admin,
                   {"status": status, "page": page, "limit": 200})
        out += data["sessions"]
        if page >= data["pagination"]["total_pages"]:
            return out
        page += 1


class Timed:
    """One keep-alive HTTP connection that times each request (wall clock, client side)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}",
                        "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> tuple[float, Any]:
        """→ (seconds, envelope data); raises on a non-2xx reply."""
        url = path + ("?" + urllib.parse.urlencode(params) if params else "")
        raw = json.dumps(body).encode() if body is not None else None
        t = time.perf_counter()
        self.conn.request(method, url, body=raw, headers=self.headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        took = time.perf_counter() - t
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {payload[:200]!r}")
        return took, json.loads(payload)["data"]

    def close(self) -> None:
        self.conn.close()
