"""Tokens are revocable: logout revokes the caller's, a password change every other one
of the user's (all of them when an admin changes it), a user's deletion all of them. A
revoked token works nowhere: REST answers 401 and a WebSocket handshake with it — say the
reconnect of a socket that was open before — is closed with 4401."""

from __future__ import annotations

from tests.helpers import WS, Api, ServerProcess, uid


def new_kefu(admin: Api, password: str = "pw-1") -> str:
    user_id = uid("kefu")
    admin.ok("POST", "/api/users/create", {"id": user_id, "name": "t", "user_type": "kefu",
                                           "password": password})
    return user_id


def works(api: Api, user_id: str) -> bool:
    r = api.call("GET", f"/api/users/{user_id}")
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def ws_refused(server: ServerProcess, token: str | None) -> bool:
    ws = WS(server.ws_url, token)
    try:
        return ws.wait_closed() == 4401
    except AssertionError:
        return False
    finally:
        ws.close()


def test_logout_revokes_the_token_everywhere(server: ServerProcess, admin: Api,
                                             sockets: list[WS]) -> None:
    user_id = new_kefu(admin)
    mine, other = Api.login(server.base, user_id, "pw-1"), Api.login(server.base, user_id, "pw-1")
    ws = WS(server.ws_url, mine.token)
    sockets.append(ws)
    ws.expect("hello")
    mine.ok("POST", "/api/auth/logout")
    assert not works(mine, user_id)
    assert works(other, user_id)  # only the caller's token
    ws.close()
    assert ws_refused(server, mine.token)  # the open socket cannot come back


def test_password_change_revokes_the_users_other_tokens(server: ServerProcess, admin: Api,
                                                        sockets: list[WS]) -> None:
    user_id = new_kefu(admin)
    me, tab, phone = (Api.login(server.base, user_id, "pw-1") for _ in range(3))
    ws = WS(server.ws_url, phone.token)
    sockets.append(ws)
    ws.expect("hello")
    me.ok("PUT", f"/api/users/{user_id}", {"password": "pw-2"})
    assert works(me, user_id)  # the caller keeps its session
    assert not works(tab, user_id) and not works(phone, user_id)
    ws.close()
    assert ws_refused(server, phone.token)
    assert Api(server.base).call("POST", "/api/auth/login", {
        "user_id": user_id, "password": "pw-1"}).status_code == 401
    Api.login(server.base, user_id, "pw-2")


def test_admin_password_reset_revokes_all_the_users_tokens(server: ServerProcess,
                                                           admin: Api) -> None:
    user_id = new_kefu(admin)
    a, b = Api.login(server.base, user_id, "pw-1"), Api.login(server.base, user_id, "pw-1")
    admin.ok("PUT", f"/api/users/{user_id}", {"password": "reset-pw"})
    assert not works(a, user_id) and not works(b, user_id)
    assert works(admin, user_id)
    # a name change alone revokes nothing
    c = Api.login(server.base, user_id, "reset-pw")
    admin.ok("PUT", f"/api/users/{user_id}", {"name": "renamed"})
    assert works(c, user_id)


def test_deleting_a_user_revokes_all_its_tokens(server: ServerProcess, admin: Api,
                                                sockets: list[WS]) -> None:
    user_id = new_kefu(admin)
    a, b = Api.login(server.base, user_id, "pw-1"), Api.login(server.base, user_id, "pw-1")
    ws = WS(server.ws_url, a.token)
    sockets.append(ws)
    ws.expect("hello")
    data = admin.ok("DELETE", f"/api/users/{user_id}")
    assert data["revoked_tokens"] == 2
    assert ws.wait_closed() == 4401  # its live socket is closed at once
    assert not works(a, user_id) and not works(b, user_id)
    assert ws_refused(server, a.token) and ws_refused(server, b.token)
