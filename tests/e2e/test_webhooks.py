"""Outbound webhooks (issue 16, item 2) against a real HTTP receiver on loopback: CRUD and
validation, every event type signed, a receiver down for a while (retries, nothing lost,
the failures logged), a redirect not followed, and a server killed -9 mid-delivery (the
restarted one delivers the event again, with the same id)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kefu.persistence.webhook_events import EVENTS
from tests.e2e.conftest import E2E_ENV
from tests.e2e.webhook_receiver import Receiver, signed_by
from tests.helpers import WS, Api, ServerProcess, connect, running

HOOK_ENV = {**E2E_ENV, "KEFU_WEBHOOK_ALLOW_PRIVATE": "1", "KEFU_WEBHOOK_BACKOFF_SECONDS": "0.2",
            "KEFU_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5", "KEFU_WEBHOOK_MAX_ATTEMPTS": "30",
            "KEFU_WEBHOOK_TIMEOUT_SECONDS": "3", "KEFU_WEBHOOK_POLL_SECONDS": "0.1",
            "KEFU_WEBHOOK_CLAIM_IDLE_SECONDS": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("srv")), **HOOK_ENV) as srv:
        yield srv


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.release()
    r.stop()


@pytest.fixture()
def hooks(admin: Api) -> Iterator[list[str]]:
    """Hook ids a test creates (append them): deleted afterwards."""
    made: list[str] = []
    yield made
    for hook_id in made:
        admin.call("DELETE", f"/api/webhooks/{hook_id}")


def add_hook(admin: Api, hooks: list[str], url: str, events: list[str]) -> dict[str, Any]:
    """The new hook's view, with the ``secret`` its creation reply showed (once)."""
    made = admin.ok("POST", "/api/webhooks", {"url": url, "events": events})
    hooks.append(made["webhook"]["id"])
    return {**made["webhook"], "secret": made["secret"]}


def logged(admin: Api, hook_id: str, event_id: str) -> list[dict[str, Any]]:
    """The hook's delivery log once it has a line for ``event_id`` (polled over REST)."""
    deadline = time.monotonic() + 15
    while True:
        log = admin.ok("GET", f"/api/webhooks/{hook_id}/deliveries")["deliveries"]
        if any(d["event_id"] == event_id for d in log):
            return log
        assert time.monotonic() < deadline, f"{event_id} not logged: {log}"
        time.sleep(0.05)


def of_type(requests: list[dict[str, Any]], kind: str, **where: Any) -> list[dict[str, Any]]:
    def matches(data: dict[str, Any]) -> bool:
        flat = {**data, **next((v for v in data.values() if isinstance(v, dict)), {})}
        return all(flat.get(k) == v for k, v in where.items())
    return [r for r in requests if r["body"]["type"] == kind and matches(r["body"]["data"])]


def test_crud_and_validation(admin: Api, hooks: list[str], receiver: Receiver) -> None:
    listed = admin.ok("GET", "/api/webhooks")
    assert set(listed["events"]) == set(EVENTS)
    for bad in ({"url": "ftp://example.com/x", "events": ["session.ended"]},
                {"url": "http://user:pw@example.com/x", "events": ["session.ended"]},
                {"url": "not a url", "events": ["session.ended"]},
                {"url": receiver.url(), "events": ["session.exploded"]},
                {"url": receiver.url(), "events": []},
                {"url": receiver.url(), "events": ["session.ended"], "secret": "short"}):
        reply = admin.call("POST", "/api/webhooks", bad)
        assert reply.status_code == 400, (bad, reply.text)
    made = add_hook(admin, hooks, receiver.url(), ["session.ended", "message.created"])
    secret = made.pop("secret")
    assert secret.startswith("whsec_") and made["active"] is True
    assert made["events"] == ["message.created", "session.ended"]
    path = f"/api/webhooks/{made['id']}"
    assert admin.ok("GET", path)["webhook"] == made  # the secret is not shown again
    assert secret not in admin.call("GET", "/api/webhooks").text
    changed = admin.ok("PUT", path, {"events": ["session.rated"], "active": False})["webhook"]
    assert changed["events"] == ["session.rated"] and changed["active"] is False
    rotated = admin.ok("POST", f"{path}/secret")["secret"]
    assert rotated.startswith("whsec_") and rotated != secret
    assert admin.call("PUT", path, {"url": None}).status_code == 400
    assert admin.call("PUT", path, {"secret": "x" * 20}).status_code == 400
    assert admin.call("PUT", path, {}).status_code == 400
    assert admin.call("PUT", path, {"url": "gopher://x"}).status_code == 400
    assert admin.ok("GET", f"{path}/deliveries")["deliveries"] == []
    sent = admin.ok("POST", f"{path}/test")["event_id"]  # (an inactive hook gets its test)
    tested = receiver.wait(lambda rs: any(r["body"]["id"] == sent for r in rs))
    assert signed_by([r for r in tested if r["body"]["id"] == sent][0], rotated)

    # a redirect is a failed delivery, never followed
    moved = add_hook(admin, hooks, receiver.url("/redirect"), ["session.ended"])
    sent = admin.ok("POST", f"/api/webhooks/{moved['id']}/test")["event_id"]
    got = receiver.wait(lambda rs: any(r["body"]["id"] == sent for r in rs))
    log = logged(admin, moved["id"], sent)
    assert log[-1]["event_id"] == sent and log[-1]["ok"] is False
    assert log[-1]["status"] == 302 and log[-1]["error"] == "redirect not followed"
    assert all(r["path"] == "/redirect" for r in got if r["body"]["id"] == sent)

    admin.ok("DELETE", path)
    assert admin.call("GET", path).status_code == 404
    assert admin.call("DELETE", path).status_code == 404


def test_private_targets_are_refused_without_the_setting(fresh_server: ServerProcess,
                                                          receiver: Receiver) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    for url in (receiver.url(), "http://localhost:9/x", "http://10.0.0.8/x",
                "http://169.254.169.254/latest", "http://[::1]/x"):
        reply = admin.call("POST", "/api/webhooks", {"url": url, "events": ["session.ended"]})
        assert reply.status_code == 400, reply.text
        assert "KEFU_WEBHOOK_ALLOW_PRIVATE" in reply.json()["details"]["url"]
    made = admin.ok("POST", "/api/webhooks", {"url": "https://8.8.8.8:1/x", "active": False,
                                              "events": ["session.ended"],
                                              "secret": "my-own-secret-0123456789"})
    assert made["secret"] == "my-own-secret-0123456789"
    made = made["webhook"]
    reply = admin.call("PUT", f"/api/webhooks/{made['id']}", {"url": receiver.url()})
    assert reply.status_code == 400, reply.text


def test_every_event_arrives_signed(server: ServerProcess, admin: Api, sockets: list[WS],
                                    hooks: list[str], receiver: Receiver) -> None:
    hook = add_hook(admin, hooks, receiver.url(), list(EVENTS))
    # nobody online: a customer waits, then leaves a message instead (queue.abandoned)
    left_id, left_api = admin.guest("留言的客户")
    waiting = connect(server, left_api, sockets)
    waiting.send(type="request_service")
    waiting.expect("queued")
    left = left_api.ok("POST", "/api/messages-left", {"content": "请回电", "email": "a@b.cn"})
    left = left["message"]

    kefu_id, kefu = admin.create_kefu()
    other_id, other = admin.create_kefu()
    connect(server, kefu, sockets)
    connect(server, other, sockets)
    kefu.ok("POST", f"/api/messages-left/{left['id']}/reply", {"content": "已回电"})
    kehu_id, kehu = admin.guest()
    c = connect(server, kehu, sockets)
    c.send(type="request_service")
    sid = c.expect("assigned")["session"]["session_id"]
    kefu_of_sid = sid.split(":")[1]
    c.send(type="message", client_msg_id="w1", content="你好")
    c.expect("ack")
    to = other_id if kefu_of_sid == kefu_id else kefu_id
    owner = kefu if kefu_of_sid == kefu_id else other
    owner.ok("POST", f"/api/sessions/{sid}/transfer", {"to_kefu_id": to, "reason": "转"})
    new_sid = f"{kehu_id}:{to}"
    admin.ok("POST", f"/api/sessions/{new_sid}/end")
    c.expect("session_ended")
    c.send(type="rate", session_id=new_sid, score=4, comment="好")
    c.expect("rated")

    wanted = {
        "session.opened": {"kehu_id": kehu_id},
        "session.assigned": {"session_id": new_sid, "transferred_from": sid},
        "session.transferred": {"session_id": sid},
        "session.ended": {"session_id": new_sid},
        "session.rated": {"session_id": new_sid, "score": 4},
        "message.created": {"session_id": sid, "content": "你好"},
        "message_left.created": {"id": left["id"]},
        "message_left.replied": {"id": left["id"], "reply": "已回电"},
        "queue.abandoned": {"kehu_id": left_id},
    }
    assert set(wanted) == set(EVENTS)
    got = receiver.wait(lambda rs: all(of_type(rs, t, **w) for t, w in wanted.items()))
    for request in got:
        assert signed_by(request, hook["secret"]), request["headers"]
    assert of_type(got, "session.assigned", session_id=sid)[0]["body"]["data"]["session"][
        "kefu_id"] == kefu_of_sid


def test_receiver_down_for_a_while(server: ServerProcess, admin: Api, sockets: list[WS],
                                   hooks: list[str], receiver: Receiver) -> None:
    hook = add_hook(admin, hooks, receiver.url(), ["message.created"])
    kefu_id, kefu = admin.create_kefu()
    connect(server, kefu, sockets)
    kehu_id, kehu = admin.guest()
    c = connect(server, kehu, sockets)
    c.send(type="request_service")
    sid = c.expect("assigned")["session"]["session_id"]
    receiver.stop()
    for i in range(3):
        c.send(type="message", client_msg_id=f"d{i}", content=f"down {i}")
        c.expect("ack")
    log_path = f"/api/webhooks/{hook['id']}/deliveries"

    def failures() -> list[dict[str, Any]]:
        return [d for d in admin.ok("GET", log_path)["deliveries"] if not d["ok"]]

    deadline = time.monotonic() + 20  # each message failed twice (polled over REST)
    while len({d["event_id"] for d in failures() if d["attempt"] >= 2}) < 3:
        assert time.monotonic() < deadline, f"no retries logged: {failures()}"
        time.sleep(0.1)
    receiver.start()
    got = receiver.wait(lambda rs: len(of_type(rs, "message.created", session_id=sid)) >= 3)
    contents = sorted(r["body"]["data"]["message"]["content"]
                      for r in of_type(got, "message.created", session_id=sid))
    assert contents[:3] == ["down 0", "down 1", "down 2"]
    arrived = {r["body"]["id"] for r in of_type(got, "message.created", session_id=sid)}
    deadline = time.monotonic() + 15  # the log shows each one's failures, then its success
    while not arrived <= {d["event_id"] for d in admin.ok("GET", log_path)["deliveries"]
                          if d["ok"]}:
        assert time.monotonic() < deadline, admin.ok("GET", log_path)
        time.sleep(0.05)
    failed = {d["event_id"] for d in failures() if d["error"]}
    assert arrived <= failed


def test_server_killed_mid_delivery(tmp_path: Path, receiver: Receiver,
                                    spawned: list[ServerProcess]) -> None:
    env = {**HOOK_ENV, "KEFU_REDIS_APPENDFSYNC": "always", "KEFU_WEBHOOK_TIMEOUT_SECONDS": "30"}
    srv = ServerProcess(tmp_path / "srv", **env).start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    _, early = admin.guest()  # nobody listens yet: the scripts write no event
    e = WS(srv.ws_url, early.token)
    e.expect("hello")
    e.send(type="request_service")
    e.expect("queued")
    e.close()
    r, outbox = srv.redis_client(), "kefu:webhooks:outbox"
    assert not r.exists(outbox) or r.xinfo_stream(outbox)["entries-added"] == 0
    hook = admin.ok("POST", "/api/webhooks", {"url": receiver.url("/hang"),
                                              "events": ["session.opened"]})
    receiver.hold()
    kehu_id, kehu = admin.guest()
    c = WS(srv.ws_url, kehu.token)
    c.expect("hello")
    c.send(type="request_service")
    c.expect("queued")
    first = receiver.wait(lambda rs: len(rs) >= 1)[0]
    assert first["body"]["type"] == "session.opened"
    assert first["body"]["data"]["kehu_id"] == kehu_id
    redis_pid = srv.redis_pid()
    srv.kill9()
    os.kill(redis_pid, signal.SIGKILL)
    c.close()
    receiver.release()

    srv2 = ServerProcess(tmp_path / "srv", port=srv.port, **env).start()
    spawned.append(srv2)
    got = receiver.wait(lambda rs: len(rs) >= 2)
    assert got[1]["body"]["id"] == first["body"]["id"]  # the same idempotency id
    assert got[1]["headers"]["X-Kefu-Event-Id"] == first["headers"]["X-Kefu-Event-Id"]
    assert signed_by(got[1], hook["secret"])
