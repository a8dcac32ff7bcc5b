"""Cluster mode end to end: every frame, REST view and admin operation behaves as in one
process when the customer, the agent and the operator are on different nodes (issue 12)."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from kefu.testing.cluster import ClusterLab
from tests.helpers import WS, Api

pytestmark = pytest.mark.timeout(120)


def ws_of(base: str, api: Api, sockets: list[WS]) -> WS:
    ws = WS(base.replace("http://", "ws://") + "/ws", api.token)
    ws.expect("hello")
    sockets.append(ws)
    return ws


def kefu_on(admins: list[Api], i: int, max_sessions: int = 5) -> tuple[str, Api]:
    kefu_id, api = admins[0].create_kefu(max_sessions=max_sessions)
    return kefu_id, Api.login(admins[i].base, kefu_id, "pw")


def guest_on(admins: list[Api], i: int) -> tuple[str, Api]:
    return admins[i].guest()


def until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a REST view (another node's presence is read once per lease round)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)  # polling a server over HTTP


def test_a_conversation_across_three_nodes(admins: list[Api], sockets: list[WS]) -> None:
    kefu_id, kefu = kefu_on(admins, 0)
    kehu_id, kehu = guest_on(admins, 1)
    k, c = ws_of(admins[0].base, kefu, sockets), ws_of(admins[1].base, kehu, sockets)
    c.send(type="request_service")
    sid = c.expect("assigned")["session"]["session_id"]
    assert k.expect("assigned")["session"]["session_id"] == sid
    seqs = []
    for i in range(5):
        c.send(type="message", client_msg_id=f"c{i}", content=f"你好 {i}")
        ack = c.expect("ack")["message"]
        assert k.expect("message")["message"]["id"] == ack["id"]
        k.send(type="message", client_msg_id=f"k{i}", content=f"answer {i}", session_id=sid)
        k_ack = k.expect("ack")["message"]
        assert c.expect("message")["message"]["id"] == k_ack["id"]
        seqs += [ack["seq"], k_ack["seq"]]
    assert seqs == list(range(1, 11))
    detail = admins[2].ok("GET", f"/api/sessions/{sid}")
    assert detail["session"]["message_count"] == 10
    until(lambda: admins[2].ok("GET", f"/api/sessions/{sid}")["participants"]["kehu"]["status"]
          == "Online")
    history = admins[2].ok("GET", f"/api/sessions/{sid}/messages")
    assert [m["seq"] for m in history["messages"]][-1] == 10
    ended = admins[2].ok("POST", f"/api/sessions/{sid}/end")
    assert ended["message_count"] == 10
    c.expect("session_ended")
    k.expect("session_ended")


def test_a_resend_on_another_node_is_stored_once(admins: list[Api], sockets: list[WS]) -> None:
    kefu_id, kefu = kefu_on(admins, 2)
    kehu_id, kehu = guest_on(admins, 0)
    k, c = ws_of(admins[2].base, kefu, sockets), ws_of(admins[0].base, kehu, sockets)
    c.send(type="request_service")
    sid = c.expect("assigned")["session"]["session_id"]
    k.expect("assigned")
    c.send(type="message", client_msg_id="once", content="only once")
    first = c.expect("ack")["message"]
    c.close()
    again = ws_of(admins[1].base, kehu, sockets)  # the customer comes back elsewhere
    again.send(type="message", client_msg_id="once", content="only once")
    assert again.expect("ack")["message"]["id"] == first["id"]
    k.expect("message")  # the agent got it (once more is dropped by seq, per connection)
    history = admins[2].ok("GET", f"/api/sessions/{sid}/messages")
    assert len(history["messages"]) == 1


def test_transfer_between_agents_on_different_nodes(admins: list[Api],
                                                    sockets: list[WS]) -> None:
    a_id, a = kefu_on(admins, 0)
    b_id, b = kefu_on(admins, 1)
    kehu_id, kehu = guest_on(admins, 2)
    ka, kb = ws_of(admins[0].base, a, sockets), ws_of(admins[1].base, b, sockets)
    c = ws_of(admins[2].base, kehu, sockets)
    assert admins[1].ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})
    sid = c.expect("assigned")["session"]["session_id"]
    assert sid.endswith(a_id)
    ka.expect("assigned")
    out = a.ok("POST", f"/api/sessions/{sid}/transfer", {"to_kefu_id": b_id})
    new_sid = out["new_session_id"]
    for ws in (c, ka, kb):
        assert ws.expect("transferred")["new_session_id"] == new_sid
    c.send(type="message", client_msg_id="after", content="after the transfer")
    assert c.expect("ack")["message"]["session_id"] == new_sid
    assert kb.expect("message")["message"]["session_id"] == new_sid


def test_the_cluster_view_agrees_on_every_node(lab: ClusterLab, admins: list[Api]) -> None:
    views = [a.ok("GET", "/api/system/cluster") for a in admins]
    alive = {n["id"] for n in views[0]["nodes"] if n["alive"]}
    assert len(alive) == 3
    for view in views:
        assert {n["id"] for n in view["nodes"] if n["alive"]} == alive
        owners = {s["shard"]: s["owner"] for s in view["shards"]}
        assert set(owners) == {str(s) for s in range(lab.shards)} | {"D"}
        assert set(owners.values()) <= alive  # every shard owned, by a live node
        assert view["dispatcher"] == owners["D"]
    assert sorted(s for v in views for s in v["this_node"]["owned"]) == sorted(
        {s["shard"] for s in views[0]["shards"]}, key=str)
    schema = httpx.get(admins[0].base + "/api/openapi.json").json()
    assert "/api/system/cluster" in schema["paths"]
    kefu_id, kefu = kefu_on(admins, 0)
    r = kefu.call("GET", "/api/system/cluster")
    assert r.status_code == 403


def node_samples(base: str) -> list[Sample]:
    text = httpx.get(base + "/metrics").text
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def test_each_node_exports_its_own_metrics(lab: ClusterLab, admins: list[Api]) -> None:
    """GET /metrics (issue 16): every sample of a node carries its node label; its lease
    changes are its own; only the dispatcher's node reports the queue."""
    views = [a.ok("GET", "/api/system/cluster") for a in admins]
    acquired = 0
    for admin, view in zip(admins, views, strict=True):
        samples = node_samples(admin.base)
        assert {s.labels.get("node") for s in samples} == {view["node"]}
        leases = {s.labels["change"]: s.value for s in samples
                  if s.name == "kefu_lease_changes_total"}
        assert leases["acquired"] >= view["this_node"]["acquired"]  # (counted alike)
        acquired += leases["acquired"]
    assert acquired >= lab.shards + 1  # every shard and the dispatcher's, once at least
    dispatcher = views[0]["dispatcher"]
    until(lambda: all(
        any(s.name == "kefu_queue_length" for s in node_samples(a.base))
        == (v["node"] == dispatcher) for a, v in zip(admins, views, strict=True)))


def test_maintenance_and_logout_reach_every_node(admins: list[Api], sockets: list[WS]) -> None:
    kehu_id, kehu = guest_on(admins, 2)
    c = ws_of(admins[2].base, kehu, sockets)
    admins[0].ok("PUT", "/api/system/maintenance", {"enabled": True, "message": "升级中"})
    try:
        until(lambda: admins[2].ok("GET", "/api/system/health")["maintenance"] is True)
        c.send(type="message", client_msg_id="m1", content="anyone?")
        assert c.expect("error")["code"] == "maintenance"
    finally:
        admins[0].ok("PUT", "/api/system/maintenance", {"enabled": False})
    until(lambda: admins[2].ok("GET", "/api/system/health")["maintenance"] is False)
    other = ws_of(admins[0].base, kehu, sockets)  # the same token, on another node
    kehu.ok("POST", "/api/auth/logout")  # through node 2
    assert other.wait_closed() == 4401
    assert c.wait_closed() == 4401


def test_an_agent_is_online_wherever_it_connected(admins: list[Api],
                                                  sockets: list[WS]) -> None:
    kefu_id, kefu = kefu_on(admins, 1)
    ws = ws_of(admins[1].base, kefu, sockets)
    until(lambda: admins[0].ok("GET", f"/api/users/{kefu_id}")["user"]["status"] == "online")
    kehu_id, kehu = guest_on(admins, 0)
    c = ws_of(admins[0].base, kehu, sockets)
    c.send(type="request_service")  # the dispatcher sees the agent on node 1 as available
    assert c.expect("assigned")["session"]["kefu_id"] == kefu_id
    ws.expect("assigned")


def test_through_haproxy(lab: ClusterLab, admins: list[Api], sockets: list[WS]) -> None:
    if lab.proxy is None:
        pytest.skip("haproxy is not installed (scripts/test installs it)")
    base = lab.proxy.base
    until(lambda: httpx.get(base + "/api/system/health").status_code == 200)
    admin = Api.login(base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu()
    kefu = Api.login(base, kefu_id, "pw")
    kehu_id, kehu = admin.guest()
    k, c = ws_of(base, kefu, sockets), ws_of(base, kehu, sockets)
    c.send(type="request_service")
    sid = c.expect("assigned")["session"]["session_id"]
    k.expect("assigned")
    for i in range(6):  # the REST calls land on every node in turn
        c.send(type="message", client_msg_id=f"p{i}", content=f"via the proxy {i}")
        c.expect("ack")
        k.expect("message")
        assert admin.ok("GET", f"/api/sessions/{sid}")["session"]["message_count"] == i + 1
