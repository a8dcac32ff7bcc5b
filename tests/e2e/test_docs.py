"""``/api/openapi.json`` and the offline interactive docs at ``/api/docs`` (Swagger UI 5,
every file served by our own server), and real replies checked against the document."""

from __future__ import annotations

import re
import types
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema_rs
import pytest

from kefu.config import Settings
from kefu.http.app import routes
from kefu.http.openapi import documented_methods, path_template
from tests.helpers import WS, Api, ServerProcess

URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""")


@pytest.fixture(scope="module")
def raw(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base, timeout=10)


@pytest.fixture(scope="module")
def document(raw: httpx.Client) -> dict[str, Any]:
    r = raw.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def table_paths() -> set[str]:
    """The documented paths of the route table (as the server builds it: fault injection on)."""
    table = routes(types.SimpleNamespace(settings=Settings(fault_injection=True)))  # type: ignore[arg-type]
    return {path_template(pattern, func.__openapi__.path_params)
            for pattern, handler, _ in table if not getattr(handler, "openapi_skip", False)
            for _m, func in documented_methods(handler)}


def foreign_urls(text: str, server: ServerProcess) -> list[str]:
    """Absolute URLs in ``text`` that point anywhere but our own server."""
    own = urlsplit(server.base).netloc
    return [u for u in URL.findall(text) if urlsplit("http:" + u if u[:2] == "//" else u)
            .netloc not in ("", own)]


def test_openapi_document(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "kefu"
    assert set(document["paths"]) == table_paths()
    assert len(document["paths"]) == len(table_paths())
    assert "bearerAuth" in document["components"]["securitySchemes"]


def test_docs_page_is_served_by_us(server: ServerProcess, raw: httpx.Client) -> None:
    for path in ("/api/docs", "/api/docs/"):
        r = raw.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        html = r.text
        assert 'id="swagger-ui"' in html
        assert "http://" not in html and "https://" not in html
        assert foreign_urls(html, server) == []
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/api/docs/static/") for s in sources)
        for src in sources:
            assert raw.get(src).status_code == 200, src
    js = raw.get("/api/docs/static/docs-init.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "http://" not in js.text and "https://" not in js.text
    assert foreign_urls(js.text, server) == []
    assert '"/api/openapi.json"' in js.text


def test_swagger_ui_5_files_are_served(raw: httpx.Client) -> None:
    bundle = raw.get("/api/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 500_000
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', bundle.text)
    assert version is not None and version.group(1) == "5", "not Swagger UI 5"
    css = raw.get("/api/docs/static/swagger-ui.css")
    assert css.status_code == 200
    assert len(css.content) > 50_000 and ".swagger-ui" in css.text
    assert raw.get("/api/docs/static/no-such-file.js").status_code == 404


# --- real replies against the document ---------------------------------------------------


class Checker:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[str] = set()

    def check(self, api: Api, method: str, template: str, path: str, body: Any = None,
              **kw: Any) -> dict[str, Any]:
        r = api.call(method.upper(), path, body, **kw)
        op = self.document["paths"][template][method]
        assert str(r.status_code) in op["responses"], f"{method} {path}: {r.status_code}"
        schema = op["responses"][str(r.status_code)]["content"]["application/json"]["schema"]
        root = {**schema, "components": self.document["components"]}
        errors = [e.message for e in jsonschema_rs.Draft202012Validator(root).iter_errors(
            r.json())]
        assert errors == [], f"{method} {path} {r.status_code}: {errors}\n{r.text}"
        self.checked.add(f"{method} {template}")
        return r.json()


def test_replies_match_the_document(server: ServerProcess, admin: Api,
                                    document: dict[str, Any]) -> None:
    c = Checker(document)
    kefu_id, kefu = admin.create_kefu()
    other_id, other = admin.create_kefu()
    sockets = [WS(server.ws_url, api.token) for api in (kefu, other)]  # online: available
    for ws in sockets:
        ws.expect("hello")
    kehu_id, kehu = admin.guest("客户张三")
    waiting_id, _ = admin.guest("客户王五")

    c.check(Api(server.base), "get", "/api/system/health", "/api/system/health")
    data = c.check(admin, "post", "/api/customer/{customer_id}/assign",
                   f"/api/customer/{waiting_id}/assign", {"priority": "high", "note": "VIP"})
    c.check(kefu, "get", "/api/kefu/waiting", "/api/kefu/waiting")
    data = c.check(admin, "post", "/api/customer/{customer_id}/assign",
                   f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})["data"]
    sid = data["session_id"]
    sockets.append(WS(server.ws_url, kehu.token))
    sockets[-1].expect("hello")
    for ws, cmid in ((sockets[-1], "c1"), (sockets[0], "k1")):  # real messages, a response
        ws.send(type="message", client_msg_id=cmid, content="你好", session_id=sid)
        ws.expect("ack")
    c.check(kefu, "post", "/api/kefu/{kefu_id}/switch/{customer_id}",
            f"/api/kefu/{kefu_id}/switch/{kehu_id}")
    for who in (admin, kefu, kehu):
        c.check(who, "get", "/api/sessions/{session_id}", f"/api/sessions/{sid}")
        c.check(who, "get", "/api/sessions/{session_id}/statistics",
                f"/api/sessions/{sid}/statistics")
        for q in ("", "?include_system=true", "?page=2&limit=1"):
            page = c.check(who, "get", "/api/sessions/{session_id}/messages",
                           f"/api/sessions/{sid}/messages{q}")["data"]
            assert page["messages"], q
    c.check(kehu, "get", "/api/sessions/{session_id}", "/api/sessions/nobody:none")
    data = c.check(kefu, "post", "/api/sessions/{session_id}/transfer",
                   f"/api/sessions/{sid}/transfer", {"to_kefu_id": other_id})["data"]
    new_sid = data["new_session_id"]
    c.check(other, "post", "/api/sessions/{session_id}/end", f"/api/sessions/{new_sid}/end")
    c.check(other, "post", "/api/sessions/{session_id}/end", f"/api/sessions/{new_sid}/end")
    c.check(admin, "post", "/api/users/create", "/api/users/create",
            {"name": "n", "user_type": "kehu"})
    c.check(admin, "post", "/api/users/create", "/api/users/create",
            {"id": kefu_id, "name": "dup", "user_type": "kefu"})
    c.check(kefu, "put", "/api/users/{user_id}/status", f"/api/users/{kefu_id}/status",
            {"status": "busy"})
    c.check(admin, "put", "/api/users/{user_id}/status", f"/api/users/{kehu_id}/status",
            {"status": "away"})
    c.check(kefu, "put", "/api/users/{user_id}/status", f"/api/users/{other_id}/status",
            {"status": "away"})
    data = c.check(admin, "get", "/api/system/actors", "/api/system/actors")["data"]
    c.check(admin, "get", "/api/system/actors", "/api/system/actors?kind=agent")
    c.check(admin, "post", "/api/system/actors/{actor_id}/restart",
            f"/api/system/actors/agent:{other_id}/restart")
    c.check(admin, "post", "/api/system/actors/{actor_id}/crash",
            f"/api/system/actors/agent:{other_id}/crash")
    assert len(c.checked) == 14
    for ws in sockets:
        ws.close()
