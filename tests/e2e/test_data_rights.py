"""Data rights (issue 16, item 4) against the real server: erase a customer (nothing of it
readable on any path afterwards, checked over REST, WebSocket and a scan of every Redis
key), export a customer, and the retention purge (the CLI, and the periodic one)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from kefu.persistence import erasure
from kefu.persistence.redis import Store
from kefu.testing.processes import KEFU_BIN
from kefu.uploads.storage import BlobStore
from tests.e2e.conftest import E2E_ENV
from tests.helpers import WS, Api, ServerProcess, connect, running, uid

ADMIN_QUERIES = ("POST /api/messages/search", "POST /api/messages/export")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("rights")), **E2E_ENV) as srv:
        yield srv


def sign(secret: str, user: str) -> str:
    return hmac.new(secret.encode(), user.encode(), hashlib.sha256).hexdigest()


def identify(server: ServerProcess, body: dict[str, Any]) -> tuple[str, Api]:
    r = httpx.post(server.base + "/api/auth/identify", json=body, timeout=10)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return data["user"]["id"], Api(server.base, data["token"])


def upload(api: Api, sid: str) -> str:
    r = api.call("POST", "/api/uploads", files={"file": ("账单.pdf", PDF, "application/pdf")},
                 params={"session_id": sid})
    assert r.status_code == 200, r.text
    return r.json()["data"]["upload"]["url"]


def say(ws: WS, cmid: str, content: str, **extra: Any) -> dict[str, Any]:
    ws.send(type="message", client_msg_id=cmid, content=content, **extra)
    return ws.expect("ack", where=lambda f: f["client_msg_id"] == cmid)["message"]


def every_value(client: redis.Redis) -> Iterator[tuple[str, str]]:
    """(key, text of its value) for every key: a real scan, each type read in full."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == "string":
            value: Any = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1)
        elif kind == "stream":
            # the audit keeps what an admin typed into a search (this test's own probes)
            value = [e for e in client.xrange(key) if e[1].get("action") not in ADMIN_QUERIES]
        else:
            continue
        yield key, json.dumps(value, ensure_ascii=False)


def test_erase_leaves_nothing_of_the_customer_readable(server: ServerProcess, admin: Api,
                                                      sockets: list[WS]) -> None:
    a_id, a = admin.create_kefu("客服甲")
    b_id, b = admin.create_kefu("客服乙")
    made = admin.ok("POST", "/api/widget/sites", {"name": "商城"})
    site, secret = made["site"]["id"], made["secret"]
    shop_user, email = uid("shop"), f"{uid('mail')}@example.com".lower()
    who = {"site": site, "user_id": shop_user, "user_hash": sign(secret, shop_user),
           "name": "韩梅梅", "email": email}
    kehu_id, kehu = identify(server, who)
    admin.ok("PUT", f"/api/customers/{kehu_id}/attributes", {"attributes": {"plan": "金卡"}})
    words = {name: uid(name) for name in ("卡号", "地址", "回复", "第二", "留言", "答复",
                                          "评价", "备注")}
    other_id, other = admin.guest()
    ws, ka, kb = connect(server, kehu, sockets), connect(server, a, sockets), connect(
        server, b, sockets)
    wo = connect(server, other, sockets)
    # the customer with A: messages both ways, an upload sent, a note, tags, a rating
    sid1 = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})["session_id"]
    ws.expect("assigned")
    say(ws, "c1", f"我的{words['卡号']}")
    say(ka, "a1", f"已收到{words['回复']}", session_id=sid1)
    url = upload(kehu, sid1)
    say(ws, "c2", "账单.pdf", content_type="File", url=url)
    a.ok("POST", f"/api/sessions/{sid1}/notes", {"content": words["备注"]})
    a.ok("PUT", f"/api/sessions/{sid1}/tags", {"tags": ["vip"]})
    admin.ok("POST", f"/api/sessions/{sid1}/end")
    ws.send(type="rate", session_id=sid1, score=5, comment=words["评价"])
    ws.expect("rated")
    # then with B, and a message left with its reply; another customer with A
    sid2 = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": b_id})["session_id"]
    say(ws, "c3", f"寄到{words['地址']}", session_id=sid2)
    say(kb, "b1", words["第二"], session_id=sid2)
    left = kehu.ok("POST", "/api/messages-left", {"content": words["留言"]})["message"]
    b.ok("POST", f"/api/messages-left/{left['id']}/reply", {"content": words["答复"]})
    osid = admin.ok("POST", f"/api/customer/{other_id}/assign", {"kefu_id": a_id})["session_id"]
    wo.expect("assigned")
    say(wo, "o1", "别人的话")
    found = admin.ok("POST", "/api/messages/search", {"keyword": words["卡号"]})
    assert found["pagination"]["total"] == 1  # readable before
    before = admin.ok("GET", f"/api/sessions/{sid1}/statistics")["statistics"]

    # refused while in a session; the admin ends it first
    r = admin.call("POST", f"/api/customers/{kehu_id}/erase")
    assert r.status_code == 409 and r.json()["error_code"] == 409, r.text
    admin.ok("POST", f"/api/sessions/{sid2}/end")
    done = admin.ok("POST", f"/api/customers/{kehu_id}/erase")
    assert (done["customer_id"], done["already_erased"], done["sessions"], done["messages"],
            done["uploads"], done["messages_left"]) == (kehu_id, False, 2, 5, 1, 1), done
    assert ws.wait_closed() is not None  # its sockets are closed, its token revoked
    assert kehu.call("GET", "/api/sessions/list").status_code == 401

    secrets_ = [*words.values(), email, shop_user, "韩梅梅", "金卡"]

    def clean(text: str, where: str) -> None:
        for s in secrets_:
            assert s not in text, (where, s)

    # every read path: session messages, search, export, agent search, transcript, resume
    for api, sid in ((admin, sid1), (a, sid1), (admin, sid2), (b, sid2)):
        r = api.call("GET", f"/api/sessions/{sid}/messages")
        if r.status_code == 200:
            msgs = r.json()["data"]["messages"]
            assert msgs and all(m["deleted"] and m["content"] == "" and m["url"] is None
                                for m in msgs if m.get("content_type") != "System"), msgs
        clean(r.text, f"messages {sid}")
    for kw in words.values():
        assert admin.ok("POST", "/api/messages/search", {"keyword": kw})["pagination"][
            "total"] == 0
    by_sender = admin.call("POST", "/api/messages/search", {"from_user": kehu_id})
    clean(by_sender.text, "search by sender")
    exported = admin.call("POST", "/api/messages/export", {"format": "ndjson"})
    clean(exported.text, "export")
    assert "别人的话" in exported.text  # the other customer's message stays
    for api in (a, b):
        for kw in words.values():
            assert api.ok("GET", "/api/kefu/search", params={"q": kw})["results"] == []
    for api, sid in ((a, sid1), (b, sid2)):
        r = api.call("GET", f"/api/sessions/{sid}/transcript")
        assert r.status_code == 200, r.text
        clean(r.text, "transcript")
    ka2 = WS(server.ws_url, a.token)
    sockets.append(ka2)
    ka2.expect("hello")
    ka2.send(type="resume", since={sid1: 0, osid: 0})
    ka2.expect("resumed", where=lambda f: f.get("session_id") == sid1)
    ka2.expect("resumed", where=lambda f: f.get("session_id") == osid)
    resumed = [f["message"] for f in ka2.seen if f["type"] == "message"]
    assert {m["session_id"] for m in resumed} == {sid1, osid}
    clean(json.dumps(resumed, ensure_ascii=False), "resume")
    # the customer itself, its uploads, messages left, notes: gone
    for path in (f"/api/customers/{kehu_id}", f"/api/customers/{kehu_id}/sessions",
                 f"/api/customers/{kehu_id}/export", f"/api/users/{kehu_id}", url):
        assert admin.call("GET", path).status_code == 404, path
    left_all = admin.call("GET", "/api/messages-left", params={"status": "all", "limit": 200})
    clean(left_all.text, "messages left")
    assert a.ok("GET", f"/api/sessions/{sid1}/notes")["notes"] == []
    clean(a.call("GET", f"/api/kefu/{a_id}/customers").text, "agent's customers")
    # counters: the counts stay, the contents go (docs/data-rights.md)
    after = admin.ok("GET", f"/api/sessions/{sid1}/statistics")["statistics"]
    assert after["total_messages"] == before["total_messages"] == 3
    assert after["satisfaction_score"] == 5 and after["rating_comment"] is None
    # one audit entry, with the counts; a second erase is harmless and adds none
    again = admin.ok("POST", f"/api/customers/{kehu_id}/erase")
    assert again["already_erased"] is True and again["messages"] == 5
    entries = [e for e in admin.ok("GET", "/api/admin/audit", params={"limit": 200})["entries"]
               if e["target"] == kehu_id]
    assert [(e["by"], e["detail"]) for e in entries if e["action"] == "customer.erase"] == [
        ("admin", {"sessions": 2, "messages": 5, "uploads": 1, "messages_left": 1})], entries
    # the other entries about it (the refused erase, the attributes set) keep who, what
    # and when; the request bodies they kept are redacted
    assert {e["action"] for e in entries} >= {"POST /api/customers/{customer_id}/erase",
                                              "PUT /api/customers/{customer_id}/attributes"}
    clean(json.dumps(entries, ensure_ascii=False), "audit")
    # and in Redis itself, every key, every value (the audit entry names only the id)
    client = server.redis_client()
    try:
        for key, text in every_value(client):
            clean(key + text, key)
    finally:
        client.close()
    # the site's user is a stranger now: identifying it makes a new customer
    assert identify(server, who)[0] != kehu_id
    admin.ok("POST", f"/api/sessions/{osid}/end")


def test_export_holds_everything_about_one_customer(server: ServerProcess, admin: Api,
                                                   sockets: list[WS]) -> None:
    a_id, a = admin.create_kefu("客服甲")
    kehu_id = uid("kehu")  # a registered customer: it has a password hash to keep out
    admin.ok("POST", "/api/users/create", {"id": kehu_id, "name": "李雷", "user_type": "kehu",
                                           "password": "pw-of-lilei"})
    kehu = Api.login(server.base, kehu_id, "pw-of-lilei")
    other_id, other = admin.guest()
    admin.ok("PUT", f"/api/customers/{kehu_id}/attributes", {"attributes": {"plan": "pro"}})
    ws, ka, wo = (connect(server, kehu, sockets), connect(server, a, sockets),
                  connect(server, other, sockets))
    sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})["session_id"]
    ws.expect("assigned")
    mine = uid("我的话")
    say(ws, "e1", mine)
    say(ka, "e2", "您好", session_id=sid)
    url = upload(kehu, sid)
    admin.ok("POST", f"/api/sessions/{sid}/end")
    kehu.ok("POST", "/api/messages-left", {"content": "请回电"})
    osid = admin.ok("POST", f"/api/customer/{other_id}/assign", {"kefu_id": a_id})["session_id"]
    wo.expect("assigned")
    say(wo, "x1", "另一位的秘密")

    r = admin.call("GET", f"/api/customers/{kehu_id}/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.kefu.customer-export+json"
    assert r.headers["content-disposition"].startswith("attachment;")
    doc = r.json()
    assert (doc["format"], doc["version"]) == ("kefu.customer-export", 1)
    assert doc["customer"]["id"] == kehu_id and doc["customer"]["name"] == "李雷"
    assert doc["customer"]["attributes"] == {"plan": "pro"}
    assert "pw_hash" not in r.text and "pw_salt" not in r.text
    [session] = doc["sessions"]
    assert session["session_id"] == sid and session["statistics"]["total_messages"] == 2
    assert [m["content"] for m in session["messages"]] == [mine, "您好"]
    assert [m["content"] for m in doc["messages_left"]] == ["请回电"]
    assert [u["url"] for u in doc["uploads"]] == [url]
    assert "另一位的秘密" not in r.text and other_id not in r.text and osid not in r.text
    # admin only; 404 for what is not a customer
    assert a.call("GET", f"/api/customers/{kehu_id}/export").status_code == 403
    assert kehu.call("GET", f"/api/customers/{kehu_id}/export").status_code == 403
    assert admin.call("GET", f"/api/customers/{a_id}/export").status_code == 404
    assert admin.call("GET", "/api/customers/nobody_zz/export").status_code == 404
    admin.ok("POST", f"/api/sessions/{osid}/end")


def purge_cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.full_env, "KEFU_REDIS_URL": f"unix://{server.redis_socket()}"}
    return subprocess.run([KEFU_BIN, "purge", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_purge_removes_ended_sessions_with_every_index_and_keeps_active_ones(
        server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    a_id, a = admin.create_kefu()
    old_id, old = admin.guest()
    live_id, live = admin.guest()
    wold, wlive, ka = (connect(server, old, sockets), connect(server, live, sockets),
                       connect(server, a, sockets))
    sid = admin.ok("POST", f"/api/customer/{old_id}/assign", {"kefu_id": a_id})["session_id"]
    wold.expect("assigned")
    word, tag = uid("旧话"), uid("old").lower()
    say(wold, "p1", word)
    say(ka, "p2", "好的", session_id=sid)
    url = upload(old, sid)
    say(wold, "p3", "图", content_type="File", url=url)
    a.ok("PUT", f"/api/sessions/{sid}/tags", {"tags": [tag]})
    a.ok("POST", f"/api/sessions/{sid}/notes", {"content": "旧备注"})
    admin.ok("POST", f"/api/sessions/{sid}/end")
    lsid = admin.ok("POST", f"/api/customer/{live_id}/assign", {"kefu_id": a_id})["session_id"]
    wlive.expect("assigned")
    say(wlive, "l1", "还在聊")

    dry = purge_cli(server, "--days", "0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)["data"]
    assert report["dry_run"] and report["sessions"] >= 1 and report["kept_active"] >= 1
    assert admin.ok("GET", f"/api/sessions/{sid}/messages")["messages"]  # nothing removed

    done = purge_cli(server, "--days", "0", "--progress")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["data"]
    assert report["sessions"] >= 1 and report["messages"] >= 3 and report["uploads"] >= 1
    assert "purge" in done.stderr and "session" in done.stderr  # the tqdm bar, on stderr
    assert admin.call("GET", f"/api/sessions/{sid}/messages").status_code == 404
    assert admin.call("GET", url).status_code == 404
    assert admin.ok("POST", "/api/messages/search", {"keyword": word})["pagination"][
        "total"] == 0
    assert tag not in {t["tag"] for t in admin.ok("GET", "/api/tags")["tags"]}
    client = server.redis_client()
    try:
        for key, text in every_value(client):  # no key, member or field names it
            assert sid not in key and f"{sid}|" not in text and word not in text, key
        assert client.exists(f"kefu:session:{lsid}") and client.xlen(
            f"kefu:session:{lsid}:msgs") == 1
        assert not client.smembers("kefu:purge:pending")
    finally:
        client.close()
    # the active one is untouched
    assert [m["content"] for m in live.ok("GET", f"/api/sessions/{lsid}/messages")[
        "messages"] if m["content_type"] != "System"] == ["还在聊"]
    assert purge_cli(server).returncode == 2  # no period: told, nothing done
    admin.ok("POST", f"/api/sessions/{lsid}/end")


def test_the_periodic_purge_runs_with_a_tiny_period(tmp_path: Path, sockets: list[WS]) -> None:
    env = {**E2E_ENV, "KEFU_RETENTION_DAYS": "0.00002", "KEFU_RETENTION_SWEEP_SECONDS": "0.3"}
    with running(tmp_path / "srv", **env) as srv:
        admin = Api.login(srv.base, "admin", "admin-pass")
        a_id, _a = admin.create_kefu()
        kehu_id, kehu = admin.guest()
        ws = connect(srv, kehu, sockets)
        sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})[
            "session_id"]
        ws.expect("assigned")
        say(ws, "t1", "很快就过期")
        admin.ok("POST", f"/api/sessions/{sid}/end")
        deadline = time.monotonic() + 20
        while admin.call("GET", f"/api/sessions/{sid}/messages").status_code != 404:
            assert time.monotonic() < deadline, "the periodic purge never ran"
            time.sleep(0.2)  # polling an endpoint with a deadline, not waiting on an actor


class FailingBlobs:
    """A blob store that is down (an S3 outage in the middle of an erasure)."""

    def delete(self, key: str) -> None:
        raise OSError("blob store unavailable")


def test_an_erasure_stopped_half_way_is_finished_by_the_next(
        server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    a_id, _a = admin.create_kefu()
    kehu_id, kehu = admin.guest()
    ws = connect(server, kehu, sockets)
    sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})["session_id"]
    ws.expect("assigned")
    word = uid("半途")
    say(ws, "h1", word)
    url = upload(kehu, sid)
    admin.ok("POST", f"/api/sessions/{sid}/end")
    store = Store(f"unix://{server.redis_socket()}")
    try:  # the first run stops at the uploads: the messages are tombstones already
        with pytest.raises(OSError):
            erasure.erase(store, cast(BlobStore, FailingBlobs()), kehu_id, "admin", "admin")
        assert store.client.hget(f"kefu:erased:{kehu_id}", "state") == "running"
    finally:
        store.client.close()
    assert word not in admin.call("GET", f"/api/sessions/{sid}/messages").text
    assert admin.call("GET", f"/api/customers/{kehu_id}").status_code == 404
    done = admin.ok("POST", f"/api/customers/{kehu_id}/erase")  # finishes it
    assert (done["already_erased"], done["messages"], done["uploads"]) == (False, 1, 1)
    assert admin.call("GET", url).status_code == 404
    erased = [e for e in admin.ok("GET", "/api/admin/audit", params={"limit": 200})["entries"]
              if e["target"] == kehu_id and e["action"] == "customer.erase"]
    assert len(erased) == 1
