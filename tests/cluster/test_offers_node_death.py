"""Offers in flight when the dispatcher's node dies (issue 14, item 2, cluster): the offer
lives in Redis with its seat, the surviving node's dispatcher reads it back — it is not
lost and not made twice — and the agent's ``accept`` on the survivor opens the session
exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.persistence.keys import DISPATCHER_SHARD, Keys
from kefu.testing.cluster import ClusterLab
from tests.helpers import WS, Api


@pytest.fixture()
def pair(tmp_path: Path) -> Iterator[ClusterLab]:
    lab = ClusterLab(tmp_path / "cluster", size=2, ttl_ms=1000, shards=4)
    try:
        yield lab.start()
    finally:
        lab.stop()


def test_an_offer_survives_the_dispatchers_node(pair: ClusterLab, sockets: list[WS]) -> None:
    lab = pair
    d = lab.node_of(DISPATCHER_SHARD)
    assert d is not None
    survivor = lab.nodes[1 - d]
    admin = Api.login(survivor.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    admin.ok("POST", "/api/teams", {"id": "desk", "name": "前台", "assignment": "offer",
                                    "offer_seconds": 120})
    admin.ok("PUT", f"/api/teams/desk/members/{kefu_id}", {"skill": 3})
    ws_url = survivor.base.replace("http", "ws") + "/ws"
    k = WS(ws_url, kefu.token)
    sockets.append(k)
    k.expect("hello")
    kehu_id, kehu = admin.guest("节点故障时的客户")
    c = WS(ws_url, kehu.token)
    sockets.append(c)
    c.expect("hello")
    c.send(type="request_service", team="desk")
    offer = k.expect("offer")
    c.expect("connecting")

    client, keys = lab.client(), Keys()
    dead_id = lab.nodes[d].node_id(client, keys)
    lab.nodes[d].kill9()
    lab.wait_owned(15, without={dead_id} if dead_id else None)
    assert lab.node_of(DISPATCHER_SHARD) == 1 - d

    # the new dispatcher holds the same offer (and its seat); it made no second one
    state = admin.ok("GET", "/api/system/cluster")
    assert client.hlen(keys.offers) == 1
    k.send(type="accept", offer_id=offer["offer_id"])
    session = c.expect("assigned", timeout=15)["session"]
    assert session["kefu_id"] == kefu_id
    assert k.expect("offer_closed")["outcome"] == "accepted"
    assert [f["offer_id"] for f in k.seen if f["type"] == "offer"] == [offer["offer_id"]]
    assert client.hlen(keys.offers) == 0
    assert client.hgetall(keys.assignments) == {kehu_id: session["session_id"]}
    assert state  # the cluster view answered on the survivor throughout
