"""Offers (issue 14, item 2) on the real dispatcher and Redis, with a virtual clock: time
is the ``Tick`` the test sends (no sleeps). An offer reserves the agent's seat, a decline
or an expiry offers the next agent, N expiries in a row set the agent away; the scripts
keep at most one offer per customer and open a session for an offer only while it is out,
to that agent."""

from __future__ import annotations

import time

import orjson

from kefu.actors.messages import AnswerOffer, RequestService, SetAgentStatus, Tick
from kefu.domain import AgentStatus
from kefu.persistence import dispatch
from kefu.persistence import teams as teams_store
from kefu.protocol import RejectReason
from tests.actors.conftest import MakeRuntime
from tests.actors.support import Kit, call


def offer_team(kit_store: object, members: list[str], seconds: int = 20) -> None:
    teams_store.create(kit_store, "desk", {"name": "前台", "assignment": "offer",  # type: ignore[arg-type]
                                           "offer_seconds": seconds})
    for kefu_id in members:
        teams_store.set_member(kit_store, "desk", kefu_id, 3)  # type: ignore[arg-type]


def offers_to(kit: Kit, kefu_id: str, n: int = 1) -> list[dict]:
    return kit.outbox.wait_user(kefu_id, "offer", n)


def test_accept_opens_the_session_and_the_seat_was_held(make_runtime: MakeRuntime) -> None:
    probe = make_runtime(kefu={"kefu_a": 1, "kefu_b": 1})
    offer_team(probe.store, ["kefu_a"])
    probe.stop()
    kit = make_runtime()  # the dispatcher reads the teams at start
    kit.connect_agent("kefu_a")
    assert call(kit.dispatcher, RequestService, kehu_id="k1", kehu_name="甲",
                team="desk").data == {"session_id": None}  # offered, not assigned
    (offer,) = offers_to(kit, "kefu_a")
    assert offer["customer"] == {"id": "k1", "name": "甲"} and offer["team"] == "desk"
    assert kit.outbox.user_frames("k1", "connecting") == [{"type": "connecting",
                                                            "team": "desk", "active": True}]
    state = kit.state()
    assert state["agents"]["kefu_a"]["reserved"] == ["k1"]  # its one seat is held
    assert [o["kehu_id"] for o in state["offers"]] == ["k1"]
    # a second customer of the team waits: the held seat is not given away
    call(kit.dispatcher, RequestService, kehu_id="k2", kehu_name="乙", team="desk")
    assert len(kit.outbox.user_frames("kefu_a", "offer")) == 1
    # a stranger cannot answer it
    assert call(kit.dispatcher, AnswerOffer, kefu_id="kefu_b", offer_id=offer["offer_id"],
                accept=True).reason is RejectReason.OFFER_GONE
    result = call(kit.dispatcher, AnswerOffer, kefu_id="kefu_a", offer_id=offer["offer_id"],
                  accept=True)
    assert result.data["session_id"] == "k1:kefu_a"
    kit.outbox.wait_user("k1", "assigned")
    closed = kit.outbox.wait_user("kefu_a", "offer_closed")[0]
    assert closed["outcome"] == "accepted"
    routing = orjson.loads(kit.store.client.hget(kit.store.keys.session("k1:kefu_a"),
                                                 "routing"))
    assert routing["by"] == "offer" and routing["offer_id"] == offer["offer_id"]
    assert kit.store.client.hlen(kit.store.keys.offers) == 0
    assert call(kit.dispatcher, AnswerOffer, kefu_id="kefu_a", offer_id=offer["offer_id"],
                accept=True).reason is RejectReason.OFFER_GONE  # answered already


def test_decline_and_expiry_offer_the_next_agent_and_misses_set_away(
        make_runtime: MakeRuntime) -> None:
    probe = make_runtime(kefu={"kefu_a": 2, "kefu_b": 2})
    offer_team(probe.store, ["kefu_a", "kefu_b"], seconds=5)
    probe.stop()
    kit = make_runtime(offer_misses_away=2)
    kit.connect_agent("kefu_a")
    kit.connect_agent("kefu_b")
    call(kit.dispatcher, RequestService, kehu_id="k1", kehu_name="甲", team="desk")
    first = kit.outbox.wait_for(
        lambda: kit.outbox.user_frames("kefu_a", "offer") + kit.outbox.user_frames(
            "kefu_b", "offer"), "the first offer")[0]
    one = "kefu_a" if kit.outbox.user_frames("kefu_a", "offer") else "kefu_b"
    other = "kefu_b" if one == "kefu_a" else "kefu_a"
    call(kit.dispatcher, AnswerOffer, kefu_id=one, offer_id=first["offer_id"], accept=False)
    assert kit.outbox.wait_user(one, "offer_closed")[0]["outcome"] == "declined"
    second = offers_to(kit, other)[0]  # the next agent, not the one that declined
    assert second["customer"]["id"] == "k1"
    # the one that declined steps away; nobody answers: the offer expires (10 s later)
    call(kit.dispatcher, SetAgentStatus, kefu_id=one, status=AgentStatus.AWAY)
    call(kit.dispatcher, Tick, now=time.time() + 10)
    assert kit.outbox.wait_user(other, "offer_closed")[0]["outcome"] == "expired"
    # it passed on it, but nobody else can take it now: offered to it again
    third = offers_to(kit, other, 2)[1]
    assert third["customer"]["id"] == "k1" and third["offer_id"] != second["offer_id"]
    # a second expiry in a row sets it away (KEFU_OFFER_MISSES_AWAY=2), and tells it why
    call(kit.dispatcher, Tick, now=time.time() + 30)
    away = kit.outbox.wait_user(other, "away")[0]
    assert away == {"type": "away", "status": "away", "reason": "missed_offers", "misses": 2}
    state = kit.state()
    assert state["agents"][other]["status"] == "away"
    assert state["agents"][other]["reserved"] == [] and state["offers"] == []
    assert kit.outbox.user_frames("k1", "queued")  # told its place again


def test_the_scripts_hold_one_offer_per_customer(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 1, "kefu_b": 1})
    store = kit.store
    offer = orjson.dumps({"id": "of_1", "kefu_id": "kefu_a", "expires_at": 0})
    assert dispatch.put_offer(store, "nobody", offer).reason == "not_waiting"
    dispatch.put_queue_entry(store, "k1", dispatch.queue_entry_json("甲", "normal", 1.0,
                                                                    None, False))
    assert dispatch.put_offer(store, "k1", offer) is None
    again = orjson.dumps({"id": "of_2", "kefu_id": "kefu_b", "expires_at": 0})
    refused = dispatch.put_offer(store, "k1", again)  # a second dispatcher, say
    assert (refused.reason, refused.detail) == ("offered", "of_1")

    def opening(kefu_id: str, offer_id: str) -> dispatch.Command:
        return dispatch.open_session_command(store, f"k1:{kefu_id}", "k1", kefu_id,
                                             time.time(), "", "甲", kefu_id, 60,
                                             offer_id=offer_id)

    # only the agent holding the offer opens the session for it
    assert dispatch.open_session(store, opening("kefu_b", "of_1")).reason == "offer_gone"
    assert dispatch.open_session(store, opening("kefu_a", "of_2")).reason == "offer_gone"
    assert not dispatch.drop_offer(store, "k1", "of_2")  # not the offer that is out
    assert isinstance(dispatch.open_session(store, opening("kefu_a", "of_1")),
                      dispatch.Opened)
    assert store.client.hlen(store.keys.offers) == 0  # removed in the same script
