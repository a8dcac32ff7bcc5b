"""Stored content comes back verbatim as JSON strings, never as markup: ``<script>``
payloads in message content and user names through REST, the exports (JSON, CSV, NDJSON
files — none of them ``text/html``, all ``nosniff`` attachments) and every HTML page the
server renders (the Swagger docs, and any page in the route table)."""

from __future__ import annotations

import csv
import io
import json
import re
from types import SimpleNamespace

import httpx
import pytest

from kefu.http.app import routes
from tests.helpers import Api, ServerProcess, open_pair, uid

PAYLOADS = ("<script>alert('xss')</script>", "\"><img src=x onerror=alert(1)>",
            "</script><script>alert(document.cookie)</script>", "<svg/onload=alert`1`>")


def is_json_reply(r: httpx.Response) -> None:
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture(scope="module")
def stored(server: ServerProcess) -> SimpleNamespace:
    """A kefu and a guest named with payloads, in a session whose messages are payloads."""
    admin = Api.login(server.base, "admin", "admin-pass")
    kefu_id = uid("kefu")
    admin.ok("POST", "/api/users/create", {"id": kefu_id, "name": PAYLOADS[0],
                                           "user_type": "kefu", "password": "pw"})
    pair = open_pair(server, admin)
    try:
        ids = []
        for i, text in enumerate(PAYLOADS[:3]):
            pair.c.send(type="message", client_msg_id=f"x{i}", content=text)
            ack = pair.c.expect("ack")["message"]
            assert ack["content"] == text  # the ack echoes it verbatim
            ids.append(ack["id"])
        guest = Api(server.base)
        guest_user = guest.ok("POST", "/api/auth/guest", {"name": PAYLOADS[1]})["user"]
    finally:
        pair.close()
    return SimpleNamespace(admin=admin, kefu_id=kefu_id, pair=pair, ids=ids,
                           guest_id=guest_user["id"], guest_name=guest_user["name"])


def test_user_names_come_back_verbatim(stored: SimpleNamespace) -> None:
    r = stored.admin.call("GET", f"/api/users/{stored.kefu_id}")
    is_json_reply(r)
    assert r.json()["data"]["user"]["name"] == PAYLOADS[0]
    assert stored.guest_name == PAYLOADS[1]
    listed = stored.admin.ok("GET", "/api/users", params={"limit": 200})["users"]
    assert {u["name"] for u in listed} >= {PAYLOADS[0], PAYLOADS[1]}


def test_message_content_comes_back_verbatim(stored: SimpleNamespace) -> None:
    r = stored.admin.call("GET", f"/api/sessions/{stored.pair.sid}/messages")
    is_json_reply(r)
    assert [m["content"] for m in r.json()["data"]["messages"]] == list(PAYLOADS[:3])
    r = stored.admin.call("GET", f"/api/messages/{stored.ids[0]}")
    is_json_reply(r)
    assert r.json()["data"]["message"]["content"] == PAYLOADS[0]
    found = stored.admin.ok("POST", "/api/messages/search", {"keyword": "<script>"})
    assert {m["content"] for m in found["messages"]} >= {PAYLOADS[0], PAYLOADS[2]}
    # the kehu reads its own history the same way
    mine = stored.pair.kehu.ok("GET", f"/api/sessions/{stored.pair.sid}/messages")
    assert [m["content"] for m in mine["messages"]] == list(PAYLOADS[:3])


@pytest.mark.parametrize("fmt, media", [("json", "application/json"),
                                        ("ndjson", "application/x-ndjson"),
                                        ("csv", "text/csv")])
def test_exports_are_attachments_never_html(stored: SimpleNamespace, fmt: str,
                                            media: str) -> None:
    r = stored.admin.call("POST", "/api/messages/export",
                          {"format": fmt, "session_id": stored.pair.sid})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == media
    assert "html" not in r.headers["Content-Type"]
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    text = r.content.decode("utf-8-sig")
    if fmt == "json":
        contents = [m["content"] for m in json.loads(text)]
    elif fmt == "ndjson":
        contents = [json.loads(line)["content"] for line in text.splitlines()]
    else:
        contents = [row["content"] for row in csv.DictReader(io.StringIO(text))]
    assert sorted(contents) == sorted(PAYLOADS[:3])  # verbatim, not escaped nor dropped


def html_pages() -> list[str]:
    """Every route that is a fixed path (no parameters): the ones that answer HTML are
    checked below."""
    state = SimpleNamespace(settings=SimpleNamespace(fault_injection=False))
    out = []
    for pattern, _handler, _kw in routes(state):  # type: ignore[arg-type]
        path = pattern.rstrip("$").replace("/?", "")
        if not re.search(r"[()\[\]*+?\\]", path):
            out.append(path)
    return out


def test_no_html_page_carries_stored_content(server: ServerProcess,
                                            stored: SimpleNamespace) -> None:
    checked = []
    for path in html_pages():
        r = stored.admin.call("GET", path)
        if "text/html" not in r.headers.get("Content-Type", ""):
            continue
        checked.append(path)
        for payload in PAYLOADS:
            assert payload not in r.text, (path, payload)
        assert "<script>alert" not in r.text
    assert "/api/docs" in checked  # the Swagger page at least
    # the API description itself is JSON
    is_json_reply_docs = httpx.get(server.base + "/api/openapi.json")
    assert is_json_reply_docs.headers["Content-Type"].startswith("application/json")


def test_a_script_in_the_path_is_a_json_404(server: ServerProcess) -> None:
    r = httpx.get(server.base + "/api/%3Cscript%3Ealert(1)%3C/script%3E")
    assert r.status_code == 404
    is_json_reply(r)
    assert "<script>" not in r.text
