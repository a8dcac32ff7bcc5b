"""Teams (issue 14, item 1, first part): admin CRUD under /api/teams with members and
their skill levels; agents read them; a deleted agent leaves its teams."""

from __future__ import annotations

from tests.helpers import Api, ServerProcess, uid


def test_teams_and_their_members(server: ServerProcess) -> None:
    admin = Api.login(server.base, "admin", "admin-pass")
    team_id = uid("sales").lower()
    made = admin.ok("POST", "/api/teams", {"id": team_id, "name": "售前",
                                           "overflow_to": "all", "max_wait_seconds": 600})
    team = made["team"]
    assert team["id"] == team_id and team["name"] == "售前" and team["members"] == []
    assert team["assignment"] == "auto" and team["overflow_to"] == "all"
    assert team["max_wait_seconds"] == 600 and team["created_at"]
    again = admin.call("POST", "/api/teams", {"id": team_id, "name": "又一个"})
    assert again.status_code == 409 and again.json()["success"] is False

    for bad in ({"id": "Upper", "name": "x"}, {"id": "ok", "name": ""},
                {"id": "self", "name": "x", "overflow_to": ["self"]},
                {"id": "ok2", "name": "x", "assignment": "random"}):
        r = admin.call("POST", "/api/teams", bad)
        assert r.status_code == 400, (bad, r.text)

    kefu_id, kefu = admin.create_kefu()
    other_id, _ = admin.create_kefu()
    base = f"/api/teams/{team_id}"
    assert admin.ok("PUT", f"{base}/members/{kefu_id}", {"skill": 4})["team"]["members"] == [
        {"kefu_id": kefu_id, "skill": 4}]
    admin.ok("PUT", f"{base}/members/{other_id}", {})  # skill 3 by default
    members = admin.ok("PUT", f"{base}/members/{kefu_id}", {"skill": 5})["team"]["members"]
    assert {m["kefu_id"]: m["skill"] for m in members} == {kefu_id: 5, other_id: 3}
    assert admin.call("PUT", f"{base}/members/{kefu_id}", {"skill": 6}).status_code == 400
    kehu_id, _ = admin.guest()
    assert admin.call("PUT", f"{base}/members/{kehu_id}", {}).status_code == 404  # not a kefu
    assert admin.call("PUT", f"/api/teams/nope_{team_id}/members/{kefu_id}",
                      {}).status_code == 404

    updated = admin.ok("PUT", base, {"assignment": "offer", "overflow_to": None})["team"]
    assert updated["assignment"] == "offer" and updated["overflow_to"] is None
    assert updated["name"] == "售前"  # untouched
    assert admin.call("PUT", base, {}).status_code == 400  # nothing to update

    # agents read (their console will show the teams), never write
    listed = kefu.ok("GET", "/api/teams")
    assert team_id in [t["id"] for t in listed["teams"]]
    assert kefu.ok("GET", base)["team"]["assignment"] == "offer"
    assert kefu.call("PUT", base, {"name": "改名"}).status_code == 403

    # a deleted agent leaves every team
    admin.ok("DELETE", f"/api/users/{other_id}")
    assert [m["kefu_id"] for m in admin.ok("GET", base)["team"]["members"]] == [kefu_id]
    admin.ok("DELETE", f"{base}/members/{kefu_id}")
    assert admin.call("DELETE", f"{base}/members/{kefu_id}").status_code == 404
    admin.ok("DELETE", base)
    assert admin.call("GET", base).status_code == 404
    assert admin.call("DELETE", base).status_code == 404
