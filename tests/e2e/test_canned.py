"""Canned responses (issue 15, item 2): everyone's and a team's (an admin's), personal ones
(an agent's); each agent sees its own, its teams' and everyone's, and changes only its
own."""

from __future__ import annotations

from tests.e2e.conftest import new_team
from tests.helpers import Api, uid


def test_who_sees_and_who_changes_which_canned_response(admin: Api, teams: list[str]) -> None:
    member_id, member = admin.create_kefu()
    other_id, other = admin.create_kefu()
    team = new_team(admin, teams, {member_id: 3})
    tag = uid("c")
    everyone = admin.ok("POST", "/api/canned-responses", {
        "shortcut": f"hi{tag}", "title": "问候", "content": "{customer_name}您好，我是{agent_name}"})["response"]
    for_team = admin.ok("POST", "/api/canned-responses", {
        "shortcut": f"refund{tag}", "content": "退款三个工作日内到账", "team": team})["response"]
    personal = member.ok("POST", "/api/canned-responses", {
        "shortcut": f"bye{tag}", "content": "再见"})["response"]
    assert (everyone["owner"], everyone["team"]) == (None, None)
    assert for_team["team"] == team and personal["owner"] == member_id

    def ids(api: Api) -> set[str]:
        return {c["id"] for c in api.ok("GET", "/api/canned-responses")["responses"]}

    mine = {everyone["id"], for_team["id"], personal["id"]}
    assert mine <= ids(member)
    assert everyone["id"] in ids(other) and not {for_team["id"], personal["id"]} & ids(other)
    assert mine <= ids(admin)

    # an agent changes its own only: someone else's personal one is not there (404),
    # a shared one is there but not its own (403)
    assert member.ok("PUT", f"/api/canned-responses/{personal['id']}",
                     {"content": "再见，祝您愉快"})["response"]["content"] == "再见，祝您愉快"
    assert other.call("PUT", f"/api/canned-responses/{personal['id']}",
                      {"content": "x"}).status_code == 404
    assert member.call("DELETE", f"/api/canned-responses/{everyone['id']}").status_code == 403
    assert member.call("POST", "/api/canned-responses", {
        "shortcut": "t", "content": "x", "team": team}).status_code == 403
    for bad in ({"shortcut": "has space", "content": "x"}, {"shortcut": "a/b", "content": "x"},
                {"shortcut": "ok", "content": ""}, {"shortcut": "ok"}):
        assert admin.call("POST", "/api/canned-responses", bad).status_code == 400, bad
    assert admin.call("POST", "/api/canned-responses", {
        "shortcut": "ok", "content": "x", "team": "no-such-team"}).status_code == 404
    guest_id, guest = admin.guest()
    assert guest.call("GET", "/api/canned-responses").status_code == 403

    for item in (everyone, for_team):
        admin.ok("DELETE", f"/api/canned-responses/{item['id']}")
    member.ok("DELETE", f"/api/canned-responses/{personal['id']}")
    assert not mine & ids(admin)
