"""Business hours and leaving a message (issue 14, items 3 and 4): outside its team's
hours a customer is not queued but asked to leave a message; with nobody online, or past
the team's max wait, it is offered to; agents of the team (only they) hear of it, list it
and reply once; the customer reads the reply later."""

from __future__ import annotations

from tests.e2e.conftest import customer, new_team
from tests.helpers import WS, Api, ServerProcess, connect


def test_outside_hours_the_customer_leaves_a_message_and_reads_the_reply(
        server: ServerProcess, admin: Api, sockets: list[WS], teams: list[str]) -> None:
    member_id, member = admin.create_kefu()
    _, outsider = admin.create_kefu()
    closed = new_team(admin, teams, {member_id: 3},
                      hours={"timezone": "Asia/Shanghai", "weekly": {}})  # never open
    k = connect(server, member, sockets)
    o = connect(server, outsider, sockets)
    listed = {t["id"]: t for t in Api(server.base).ok("GET", "/api/widget/teams")["teams"]}
    assert listed[closed]["open"] is False and listed[closed]["next_open"] is None

    kehu_id, kehu, c = customer(server, admin, sockets, "夜里来的客户")
    c.send(type="request_service", team=closed)
    told = c.expect("leave_message")
    assert (told["reason"], told["queued"], told["team"]) == ("outside_hours", False, closed)
    assert kehu_id not in [w["customer_id"] for w in
                           admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]

    for bad in ({"content": ""}, {"content": "x", "email": "not-an-email"},
                {"content": "x", "phone": "call me"}, {"content": "x", "reason": "bored"}):
        assert kehu.call("POST", "/api/messages-left", bad).status_code == 400, bad
    assert kehu.call("POST", "/api/messages-left",
                     {"content": "x", "team": "no-such-team"}).status_code == 404
    assert member.call("POST", "/api/messages-left", {"content": "x"}).status_code == 403
    left = kehu.ok("POST", "/api/messages-left", {
        "content": "明天请联系我，订单 77", "name": "王女士", "email": "wang@example.com",
        "phone": "+86 138 0000 0000", "team": closed, "reason": "outside_hours"})["message"]
    assert left["status"] == "open" and left["kehu_id"] == kehu_id
    pushed = k.expect("message_left")["left"]
    assert pushed["id"] == left["id"] and pushed["email"] == "wang@example.com"

    # the team's agents list and answer it; an agent outside the team does not see it
    assert left["id"] in [m["id"] for m in member.ok("GET", "/api/messages-left")["messages"]]
    assert left["id"] not in [m["id"] for m in outsider.ok("GET", "/api/messages-left",
                                                            params={"limit": 200})["messages"]]
    assert outsider.call("POST", f"/api/messages-left/{left['id']}/reply",
                         {"content": "我来"}).status_code == 404
    assert kehu.call("GET", "/api/messages-left").status_code == 403
    answered = member.ok("POST", f"/api/messages-left/{left['id']}/reply",
                         {"content": "王女士您好，订单 77 已处理"})["message"]
    assert answered["status"] == "answered" and answered["replied_by"] == member_id
    again = member.call("POST", f"/api/messages-left/{left['id']}/reply", {"content": "再回"})
    assert again.status_code == 409
    assert left["id"] not in [m["id"] for m in member.ok("GET", "/api/messages-left")["messages"]]
    everything = admin.ok("GET", "/api/messages-left", params={"status": "all"})["messages"]
    assert left["id"] in [m["id"] for m in everything]

    (mine,) = kehu.ok("GET", "/api/messages-left/mine")["messages"]
    assert mine["reply"] == "王女士您好，订单 77 已处理" and mine["content"] == left["content"]
    assert not [f for f in o.seen + o.drain() if f["type"] == "message_left"]


def test_nobody_online_and_max_wait_offer_to_leave_a_message(
        server: ServerProcess, admin: Api, sockets: list[WS], teams: list[str]) -> None:
    member_id, member = admin.create_kefu()
    team = new_team(admin, teams, {member_id: 3}, max_wait_seconds=1)
    kehu_id, kehu, c = customer(server, admin, sockets)
    c.send(type="request_service", team=team)
    c.expect("queued")
    told = c.expect("leave_message")
    assert (told["reason"], told["queued"]) == ("nobody_online", True)
    assert c.expect("leave_message", timeout=10)["reason"] == "max_wait"  # told once, later
    kehu.ok("POST", "/api/messages-left", {"content": "不等了", "team": team,
                                           "reason": "max_wait"})
    # it no longer waits: an agent coming online does not get it
    assert kehu_id not in [w["customer_id"] for w in
                           admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]
    connect(server, member, sockets)
    admin.ok("GET", "/api/kefu/waiting")  # (the dispatcher has seen the agent come online)
    assert member.ok("GET", f"/api/kefu/{member_id}/customers")["total"] == 0
