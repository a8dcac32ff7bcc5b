"""Tokens are revocable: logout revokes the caller's, a password change every other one
of the user's (all of them when an admin changes it), a user's deletion all of them. A
revoked token works nowhere: REST answers 401, a WebSocket handshake with it is closed
with 4401, and so is every socket that was opened with it — at once, and only those.

The users here are customers with a password: an agent that connects to the shared
server could be handed a customer another test left waiting (issue 10, item 12)."""

from __future__ import annotations

from tests.helpers import WS, Api, ServerProcess, uid


def new_user(admin: Api, password: str = "pw-1") -> str:
    user_id = uid("kehu")
    admin.ok("POST", "/api/users/create", {"id": user_id, "name": "t", "user_type": "kehu",
                                           "password": password})
    return user_id


def still_open(ws: WS) -> bool:
    ws.send(type="ping")
    ws.expect("pong")
    return True


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
    user_id = new_user(admin)
    mine, other = Api.login(server.base, user_id, "pw-1"), Api.login(server.base, user_id, "pw-1")
    ws, ws2, kept = (WS(server.ws_url, t) for t in (mine.token, mine.token, other.token))
    for w in (ws, ws2, kept):
        sockets.append(w)
        w.expect("hello")
    mine.ok("POST", "/api/auth/logout")
    assert ws.wait_closed() == 4401 and ws2.wait_closed() == 4401  # its sockets, at once
    assert still_open(kept)  # the same user's socket of another token stays
    assert not works(mine, user_id)
    assert works(other, user_id)  # only the caller's token
    assert ws_refused(server, mine.token)  # the closed socket cannot come back


def test_password_change_revokes_the_users_other_tokens(server: ServerProcess, admin: Api,
                                                        sockets: list[WS]) -> None:
    user_id = new_user(admin)
    me, tab, phone = (Api.login(server.base, user_id, "pw-1") for _ in range(3))
    ws, mine = WS(server.ws_url, phone.token), WS(server.ws_url, me.token)
    for w in (ws, mine):
        sockets.append(w)
        w.expect("hello")
    me.ok("PUT", f"/api/users/{user_id}", {"password": "pw-2"})
    assert ws.wait_closed() == 4401  # the phone's socket goes with its token
    assert still_open(mine)  # the caller's own socket stays
    assert works(me, user_id)  # the caller keeps its session
    assert not works(tab, user_id) and not works(phone, user_id)
    assert ws_refused(server, phone.token)
    assert Api(server.base).call("POST", "/api/auth/login", {
        "user_id": user_id, "password": "pw-1"}).status_code == 401
    Api.login(server.base, user_id, "pw-2")


def test_admin_password_reset_revokes_all_the_users_tokens(server: ServerProcess,
                                                           admin: Api,
                                                           sockets: list[WS]) -> None:
    user_id = new_user(admin)
    a, b = Api.login(server.base, user_id, "pw-1"), Api.login(server.base, user_id, "pw-1")
    wa, wb = WS(server.ws_url, a.token), WS(server.ws_url, b.token)
    sockets += [wa, wb]
    wa.expect("hello")
    wb.expect("hello")
    admin.ok("PUT", f"/api/users/{user_id}", {"password": "reset-pw"})
    assert wa.wait_closed() == 4401 and wb.wait_closed() == 4401
    assert not works(a, user_id) and not works(b, user_id)
    assert works(admin, user_id)
    # a name change alone revokes nothing
    c = Api.login(server.base, user_id, "reset-pw")
    admin.ok("PUT", f"/api/users/{user_id}", {"name": "renamed"})
    assert works(c, user_id)


def test_deleting_a_user_revokes_all_its_tokens(server: ServerProcess, admin: Api,
                                                sockets: list[WS]) -> None:
    user_id = new_user(admin)
    a, b = Api.login(server.base, user_id, "pw-1"), Api.login(server.base, user_id, "pw-1")
    ws = WS(server.ws_url, a.token)
    sockets.append(ws)
    ws.expect("hello")
    data = admin.ok("DELETE", f"/api/users/{user_id}")
    assert data["revoked_tokens"] == 2
    assert ws.wait_closed() == 4401  # its live socket is closed at once
    assert not works(a, user_id) and not works(b, user_id)
    assert ws_refused(server, a.token) and ws_refused(server, b.token)
