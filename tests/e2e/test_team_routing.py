"""Routing by team (issue 14, item 1): a queue per team, only its members take its
customers, overflow to fallback teams after the team's time, capacity shared across teams,
transfer to a team (the customer at the front, its history with it), the consoles' pushed
lists per team, and the widget's public list of teams."""

from __future__ import annotations

from tests.e2e.conftest import customer, new_team
from tests.helpers import WS, Api, ServerProcess, connect


def test_a_team_queue_is_served_by_its_members_only(server: ServerProcess, admin: Api,
                                                    sockets: list[WS],
                                                    teams: list[str]) -> None:
    member_id, member = admin.create_kefu(max_sessions=1)
    outsider_id, outsider = admin.create_kefu(max_sessions=5)
    team = new_team(admin, teams, {member_id: 4})
    m = connect(server, member, sockets)
    o = connect(server, outsider, sockets)

    offered = {t["id"]: t for t in Api(server.base).ok("GET", "/api/widget/teams")["teams"]}
    assert offered[team]["name"] == f"组 {team}" and offered[team]["open"] is True  # no login

    first_id, first, c1 = customer(server, admin, sockets, "一号")
    c1.send(type="request_service", team=team)
    sid = c1.expect("assigned")["session"]["session_id"]
    assert sid == f"{first_id}:{member_id}"  # the outsider had more room: not its team
    why = admin.ok("GET", f"/api/sessions/{sid}/routing")["routing"]
    assert why["team"] == team and why["overflowed"] is False
    assert why["candidates"][0] == {**why["candidates"][0], "kefu_id": member_id, "skill": 4}
    assert {"kefu_id": outsider_id, "reason": "not_in_team"} in [
        {k: s[k] for k in ("kefu_id", "reason")} for s in why["skipped"]]

    second_id, second, c2 = customer(server, admin, sockets, "二号")
    c2.send(type="request_service", team=team)
    queued = c2.expect("queued")
    assert queued["team"] == team and queued["position"] == 1
    # the member's console lists it; the outsider's (room to spare) does not
    listed = m.expect("waiting", where=lambda f: second_id in
                      [w["customer_id"] for w in f["waiting_customers"]])
    assert listed["waiting_customers"][0]["team"] == team
    o.expect("waiting")  # the outsider hears the queue changed too (without c2, below)
    # a console that opens now gets its list at once, the same way (no REST read)
    assert second_id in [w["customer_id"] for w in
                         connect(server, member, sockets).expect("waiting")["waiting_customers"]]
    assert second_id not in [w["customer_id"] for w in connect(server, outsider, sockets)
                             .expect("waiting")["waiting_customers"]]
    # an agent outside the team still may take it by hand (switch), as an admin may
    assert admin.ok("GET", "/api/kefu/waiting")["waiting_customers"][0]["team"] == team

    member.ok("POST", f"/api/sessions/{sid}/end")
    assigned = c2.expect("assigned")
    assert assigned["session"]["kefu_id"] == member_id
    assert not [f for f in o.seen + o.drain() if f["type"] == "waiting" and second_id in
                [w["customer_id"] for w in f["waiting_customers"]]]

    _, _, c3 = customer(server, admin, sockets)
    c3.send(type="request_service", team="no-such-team")
    err = c3.expect("error")
    assert err["code"] == "team_not_found"
    bad = admin.call("POST", "/api/sessions/x:y/transfer", {"to_team": "Bad Team"})
    assert bad.status_code == 400  # not a team id
    both = admin.call("POST", "/api/sessions/x:y/transfer",
                      {"to_team": team, "to_kefu_id": member_id})
    assert both.status_code == 400  # one target, not two


def test_overflow_to_a_fallback_team_after_the_teams_time(server: ServerProcess, admin: Api,
                                                          sockets: list[WS],
                                                          teams: list[str]) -> None:
    a_id, a = admin.create_kefu(max_sessions=1)
    b_id, b = admin.create_kefu(max_sessions=1)
    c_id, c = admin.create_kefu(max_sessions=1)  # in no team: never reached
    fallback = new_team(admin, teams, {b_id: 2})
    team = new_team(admin, teams, {a_id: 5}, overflow_after_seconds=2,
                    overflow_to=[fallback])
    for api in (a, b, c):
        connect(server, api, sockets)
    _, _, c1 = customer(server, admin, sockets)
    c1.send(type="request_service", team=team)
    assert c1.expect("assigned")["session"]["kefu_id"] == a_id  # a is now full
    waiting_id, _, c2 = customer(server, admin, sockets)
    c2.send(type="request_service", team=team)
    c2.expect("queued")
    session = c2.expect("assigned", timeout=15)["session"]
    assert session["kefu_id"] == b_id  # the fallback team's member, not c
    why = admin.ok("GET", f"/api/sessions/{session['session_id']}/routing")["routing"]
    assert why["overflowed"] is True and why["waited_seconds"] >= 2
    skipped = {s["kefu_id"]: s["reason"] for s in why["skipped"]}
    assert skipped[c_id] == "not_in_team" and skipped[a_id] == "full"
    assert waiting_id == session["kehu_id"]


def test_capacity_is_shared_across_an_agents_teams(server: ServerProcess, admin: Api,
                                                   sockets: list[WS],
                                                   teams: list[str]) -> None:
    a_id, a = admin.create_kefu(max_sessions=1)
    sales = new_team(admin, teams, {a_id: 3})
    support = new_team(admin, teams, {a_id: 3})
    connect(server, a, sockets)
    _, _, c1 = customer(server, admin, sockets)
    c1.send(type="request_service", team=sales)
    sid = c1.expect("assigned")["session"]["session_id"]
    _, _, c2 = customer(server, admin, sockets)
    c2.send(type="request_service", team=support)
    assert c2.expect("queued")["position"] == 1  # its one seat is taken by sales
    a.ok("POST", f"/api/sessions/{sid}/end")
    assert c2.expect("assigned")["session"]["kefu_id"] == a_id


def test_transfer_to_a_team_puts_the_customer_first_with_its_history(
        server: ServerProcess, admin: Api, sockets: list[WS], teams: list[str]) -> None:
    a_id, a = admin.create_kefu(max_sessions=5)
    b_id, b = admin.create_kefu(max_sessions=1)
    team = new_team(admin, teams, {b_id: 3})
    k_a = connect(server, a, sockets)
    k_b = connect(server, b, sockets)
    # b is busy with someone of the team; another of its customers already waits
    _, _, busy = customer(server, admin, sockets)
    busy.send(type="request_service", team=team)
    busy_sid = busy.expect("assigned")["session"]["session_id"]
    early_id, _, early = customer(server, admin, sockets)
    early.send(type="request_service", team=team)
    early.expect("queued")

    kehu_id, kehu, c = customer(server, admin, sockets, "转组")
    c.send(type="request_service")
    old = c.expect("assigned")["session"]["session_id"]
    assert old == f"{kehu_id}:{a_id}"
    c.send(type="message", client_msg_id="before", content="我的订单号是 42")
    c.expect("ack")
    k_a.expect("message")

    moved = a.ok("POST", f"/api/sessions/{old}/transfer",
                 {"to_team": team, "reason": "账单问题"})
    assert moved["to_team"] == team and moved["status"] == "queued"
    assert moved["new_session_id"] is None and moved["from_kefu_id"] == a_id
    ended = c.expect("session_ended")
    assert ended["reason"] == "transferred_to_team" and ended["by"] == a_id
    assert c.expect("queued")["position"] == 1  # ahead of the customer who waited before
    assert a.call("POST", f"/api/sessions/{old}/transfer",
                  {"to_team": team}).status_code == 409  # not active any more
    c.send(type="message", client_msg_id="waiting", content="还在吗")
    c.expect("ack")  # kept while it waits, moved into its next session

    b.ok("POST", f"/api/sessions/{busy_sid}/end")
    session = c.expect("assigned")["session"]
    assert session["kefu_id"] == b_id and session["transferred_from"] == old
    assert k_b.expect("assigned", where=lambda f: f["kehu"]["id"] == kehu_id)
    # the new agent reads what was said before the transfer
    earlier = b.ok("GET", f"/api/sessions/{old}/messages")["messages"]
    assert [m["content"] for m in earlier if m["content_type"] == "Text"] == ["我的订单号是 42"]
    assert b.ok("GET", f"/api/sessions/{session['session_id']}/routing")["routing"]["team"] \
        == team
    assert early_id in [w["customer_id"] for w in
                        admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]
    # an agent never in that chain still may not read it
    _, stranger = admin.create_kefu()
    assert stranger.call("GET", f"/api/sessions/{old}/messages").status_code == 404
    assert a.call("POST", f"/api/sessions/{session['session_id']}/transfer",
                  {"to_team": "gone-team"}).status_code == 404
