"""Offers over real WebSockets (issue 14, item 2): a team in offer mode; the agent gets
``offer`` with a preview of what the customer wrote, answers ``accept`` or ``decline``;
the customer hears an agent is being connected. The policy itself (expiry, misses, the
scripts) is tested with a virtual clock in tests/actors/test_offers.py."""

from __future__ import annotations

from tests.e2e.conftest import customer, new_team
from tests.helpers import WS, Api, ServerProcess, connect


def test_offer_accept_and_decline_over_websockets(server: ServerProcess, admin: Api,
                                                  sockets: list[WS],
                                                  teams: list[str]) -> None:
    a_id, a = admin.create_kefu(max_sessions=1)
    b_id, b = admin.create_kefu(max_sessions=1)
    team = new_team(admin, teams, {a_id: 5}, assignment="offer", offer_seconds=60)
    k_a = connect(server, a, sockets)
    k_b = connect(server, b, sockets)
    a.ok("PUT", f"/api/users/{a_id}/status", {"status": "away"})
    kehu_id, _, c = customer(server, admin, sockets, "要退款的客户")
    c.send(type="request_service", team=team)
    c.expect("queued")
    c.send(type="message", client_msg_id="m1", content="我想退款，订单 88")
    c.expect("ack")
    a.ok("PUT", f"/api/users/{a_id}/status", {"status": "online"})

    offer = k_a.expect("offer")
    assert offer["customer"] == {"id": kehu_id, "name": "要退款的客户"}
    assert offer["team"] == team and offer["preview"] == "我想退款，订单 88"
    assert offer["expires_in_seconds"] == 60 and offer["expires_at"]
    assert c.expect("connecting")["team"] == team
    k_a2 = connect(server, a, sockets)  # a reload (or a second tab) is told it again
    again = k_a2.expect("offer")
    assert again["offer_id"] == offer["offer_id"] and 0 < again["expires_in_seconds"] <= 60
    # only the agent it was offered to may answer; a customer may not answer at all
    k_b.send(type="accept", offer_id=offer["offer_id"])
    assert k_b.expect("error")["code"] == "offer_gone"
    c.send(type="accept", offer_id=offer["offer_id"])
    assert c.expect("error")["code"] == "forbidden"
    k_a.send(type="decline", offer_id="of_nonsense")
    assert k_a.expect("error")["code"] == "offer_gone"

    k_a.send(type="accept", offer_id=offer["offer_id"])
    session = c.expect("assigned")["session"]
    assert session["kefu_id"] == a_id
    assert k_a.expect("offer_closed")["outcome"] == "accepted"
    moved = c.expect("message")["message"]  # what it wrote while waiting, now in the session
    assert moved["content"] == "我想退款，订单 88" and moved["session_id"] == session["session_id"]
    why = admin.ok("GET", f"/api/sessions/{session['session_id']}/routing")["routing"]
    assert why["by"] == "offer" and why["offer_id"] == offer["offer_id"]

    # a second customer: a is full, so b joins the team; b declines, and with nobody
    # else it is offered to b again (never lost)
    admin.ok("PUT", f"/api/teams/{team}/members/{b_id}", {"skill": 2})
    _, _, c2 = customer(server, admin, sockets)
    c2.send(type="request_service", team=team)
    first = k_b.expect("offer")
    k_b.send(type="decline", offer_id=first["offer_id"])
    assert k_b.expect("offer_closed")["outcome"] == "declined"
    assert c2.expect("connecting", where=lambda f: not f["active"])["team"] == team
    second = k_b.expect("offer")
    assert second["offer_id"] != first["offer_id"]
    k_b.send(type="accept", offer_id=second["offer_id"])
    assert c2.expect("assigned")["session"]["kefu_id"] == b_id
