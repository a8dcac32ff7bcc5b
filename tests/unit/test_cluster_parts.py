"""Cluster mode's pure parts: the message codec, node presence, shard placement, settings."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from kefu.actors import messages
from kefu.actors.messages import Accepted, AssignCustomer, Rejected, SetAgentStatus
from kefu.actors.node_presence import NodePresence
from kefu.cli import main
from kefu.cluster import codec
from kefu.cluster.leases import shard_of
from kefu.cluster.router import shard_of_actor
from kefu.config import Settings
from kefu.domain import AgentStatus, Priority
from kefu.protocol import RejectReason

SAMPLE = {"str": "x", "str | None": None, "int": 3, "int | None": 2, "float": 1.5,
          "float | None": None, "bool": True, "AgentStatus": AgentStatus.AWAY,
          "Priority": Priority.HIGH, "dict[str, Any]": {"id": "lm_1", "team": None}}
# (by annotation: postponed, so strings)


def test_every_travelling_message_survives_the_codec() -> None:
    travelling = [c for c in vars(messages).values()
                  if isinstance(c, type) and issubclass(c, messages.ActorMessage)
                  and c is not messages.ActorMessage and c.__name__ not in codec.LOCAL_ONLY]
    assert len(travelling) >= 20
    for cls in travelling:
        values = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                continue  # the default travels too
            values[f.name] = SAMPLE[str(f.type)]
        msg = cls(**values)
        back = codec.decode_message(codec.loads(codec.dumps(codec.encode_message(msg))))
        assert back == msg and type(back) is cls
    enum_msg = SetAgentStatus(kefu_id="k", status=AgentStatus.AWAY)
    assert codec.decode_message(codec.loads(codec.dumps(codec.encode_message(enum_msg)))
                                ).status is AgentStatus.AWAY
    assert codec.travels(AssignCustomer(kehu_id="a", kehu_name="b"))


def test_replies_survive_the_codec() -> None:
    ok = codec.decode_reply(codec.loads(codec.dumps(codec.encode_reply(
        Accepted(data={"session_id": "a:b"})))))
    assert ok == Accepted(data={"session_id": "a:b"})
    no = codec.decode_reply(codec.loads(codec.dumps(codec.encode_reply(
        Rejected(reason=RejectReason.KEFU_FULL, params={"count": 2})))))
    assert no == Rejected(reason=RejectReason.KEFU_FULL, params={"count": 2})
    with pytest.raises(KeyError):
        codec.decode_message({"t": "AppendOutcome", "f": {}})  # never crosses a node


def test_presence_sums_nodes_and_forgets_dead_ones() -> None:
    p = NodePresence.from_snapshot({"n1": {"kefu_a": 2, "kehu_b": 1}, "n2": {"kefu_a": 1}})
    assert p.total("kefu_a") == 3 and p.totals() == {"kefu_a": 3, "kehu_b": 1}
    assert p.set("kefu_a", "n1", 0) == 1  # its last socket on n1 closed; n2's remains
    assert p.keep_nodes({"n1"}) == {"kefu_a"}  # n2's heartbeat expired
    assert p.total("kefu_a") == 0 and p.total("kehu_b") == 1
    assert p.set("kehu_b", "n1", 0) == 0 and p.counts == {}


def test_a_kefu_and_its_sessions_share_a_shard() -> None:
    for kefu in ("kefu_1", "kefu_2", "客服"):
        shard = shard_of(kefu, 64)
        assert shard_of_actor("agent", kefu, 64) == shard
        assert shard_of_actor("session", f"kehu_x:{kefu}", 64) == shard
    assert shard_of_actor("dispatcher", "main", 64) == "D"
    assert len({shard_of(f"kefu_{i}", 64) for i in range(1000)}) == 64  # all shards used


def test_cluster_mode_needs_a_shared_redis() -> None:
    with pytest.raises(ValidationError, match="KEFU_REDIS_URL"):
        Settings(cluster=True, redis_url=None)
    with pytest.raises(ValidationError, match="KEFU_NODE_ID"):
        Settings(cluster=True, redis_url="redis://x", node_id="a|b")
    assert Settings(cluster=True, redis_url="redis://x").shards == 64


def test_serve_says_what_is_wrong_with_the_settings(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KEFU_CLUSTER", "1")
    monkeypatch.delenv("KEFU_REDIS_URL", raising=False)
    assert main(["serve"]) == 2
    assert "KEFU_CLUSTER=1 needs KEFU_REDIS_URL" in capsys.readouterr().err
