"""Rate limits kept in Redis: chat messages per kehu (WS ``error`` ``rate_limited``, the
message neither acked nor stored), guest creation per client address and failed logins
per user id (429 envelope with ``data.retry_after`` and a ``Retry-After`` header) — the
last two across two server processes sharing one Redis.

The windows are fixed (a minute for messages and guests): an attempt that happens to
straddle a window's end is run again once, with fresh users."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.contract import assert_error
from tests.helpers import WS, Api, RedisServer, ServerProcess, open_pair, uid
from tests.security.conftest import LOGIN_LIMIT, MSG_LIMIT

T = TypeVar("T")
TWIN_MSG_LIMIT = 20  # leases of 2: the lease path, not one counter hit per message


def in_one_window(window: int, attempt: Callable[[], T], margin: float = 8.0) -> T:
    """Run ``attempt`` inside one window of the fixed-window limits: it starts with at
    least ``margin`` seconds of the window left, else it first waits for the next window
    (the clock, not an actor) — an attempt that crossed a boundary left hits in the new
    window, and a retry there once found the guest limit already spent. Should a slow
    attempt still cross one, it runs once more."""
    for _ in range(2):
        left = window - time.time() % window
        if left < margin:
            time.sleep(left + 0.05)
        start = int(time.time() // window)
        try:
            return attempt()
        except AssertionError:
            if int(time.time() // window) == start:
                raise
    raise AssertionError("unreachable")


def assert_429(r: httpx.Response, window: int) -> int:
    body = assert_error(r, 429)
    retry = body["data"]["retry_after"]
    assert isinstance(retry, int) and 1 <= retry <= window, body
    assert r.headers["Retry-After"] == str(retry)
    return retry


# --- messages per kehu (WebSocket) -------------------------------------------------------


def test_kehu_messages_past_the_limit_get_rate_limited_and_are_not_stored(
        server: ServerProcess, admin: Api) -> None:
    def attempt() -> None:
        pair = open_pair(server, admin)
        try:
            for i in range(MSG_LIMIT):
                pair.c.send(type="message", client_msg_id=f"ok{i}", content=f"hi {i}")
                assert pair.c.expect("ack")["client_msg_id"] == f"ok{i}"
            for i in range(3):
                pair.c.send(type="message", client_msg_id=f"over{i}", content="spam")
                err = pair.c.expect("error")
                assert err["code"] == "rate_limited" and err["ref"] == f"over{i}", err
                assert 1 <= err["retry_after"] <= 60, err
            # the agent is not limited by the customer's count
            for i in range(MSG_LIMIT + 2):
                pair.k.send(type="message", client_msg_id=f"a{i}", content="reply",
                            session_id=pair.sid)
                pair.k.expect("ack")
            pair.c.send(type="ping")
            pair.c.expect("pong")  # the socket is still served
            assert not [f for f in pair.c.seen if f.get("type") == "ack"
                        and f["client_msg_id"].startswith("over")]
            page = pair.kefu.ok("GET", f"/api/sessions/{pair.sid}/messages",
                                params={"limit": 100})
            from_kehu = [m for m in page["messages"] if m["from"] == pair.kehu_id]
            assert [m["content"] for m in from_kehu] == [f"hi {i}" for i in range(MSG_LIMIT)]
        finally:
            pair.close()

    in_one_window(60, attempt)


# --- guests and logins across two processes ------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    """Two server processes on one Redis: the limits must hold across them."""
    base = Path(tmp_path_factory.mktemp("twins"))
    rs = RedisServer(base / "redis").start()
    env = {"KEFU_REDIS_URL": rs.url, "KEFU_GUEST_RATE_PER_MINUTE": "3",
           "KEFU_LOGIN_FAIL_LIMIT": str(LOGIN_LIMIT),
           "KEFU_KEHU_MSG_RATE_PER_MINUTE": str(TWIN_MSG_LIMIT)}
    servers = [ServerProcess(base / name, **env) for name in ("a", "b")]
    try:
        for srv in servers:
            srv.start()
        yield tuple(servers)
    finally:
        for srv in servers:
            srv.stop()
        rs.stop()


def test_guest_creation_is_limited_per_address_across_processes(
        twins: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = twins

    def attempt() -> None:
        guest = "/api/auth/guest"
        for srv in (a, b, a):
            assert httpx.post(srv.base + guest, json={}).status_code == 200
        for srv in (b, a):
            assert_429(httpx.post(srv.base + guest, json={}), 60)

    in_one_window(60, attempt)


def test_kehu_messages_are_limited_across_processes(
        twins: tuple[ServerProcess, ServerProcess]) -> None:
    """Each process leases hits from the kehu's one counter (2 at a time at this limit)
    and spends them locally: however the kehu spreads its messages over the two
    processes, no more than the limit gets through in a window."""
    a, b = twins
    admin = Api.login(a.base, "admin", "admin-pass")

    def attempt() -> None:
        kehu_id = uid("kehu")  # not a guest: the guest limit here is 3 a minute
        admin.ok("POST", "/api/users/create", {"id": kehu_id, "name": "k",
                                               "user_type": "kehu", "password": "pw"})
        kehu = Api.login(a.base, kehu_id, "pw")
        on_a, on_b = WS(a.ws_url, kehu.token), WS(b.ws_url, kehu.token)
        try:
            on_a.expect("hello")
            on_b.expect("hello")
            outcomes = []
            for i in range(TWIN_MSG_LIMIT + 6):
                ws = on_a if i % 3 else on_b
                ws.send(type="message", client_msg_id=f"m{i}", content=f"m{i}")
                got = ws.expect_one_of(("ack", "error"))
                assert got.get("code") in (None, "rate_limited"), got
                outcomes.append(got["type"])
            # never more than the limit; fewer by at most one unspent hit per process
            # (a lease of 2 half used when the counter filled up)
            acked = outcomes.count("ack")
            assert TWIN_MSG_LIMIT - 2 <= acked <= TWIN_MSG_LIMIT, outcomes
            first_refusal = outcomes.index("error")
            assert first_refusal >= TWIN_MSG_LIMIT - 2, outcomes
            assert outcomes[first_refusal:].count("ack") <= 2, outcomes
            assert outcomes[-3:] == ["error"] * 3, outcomes
        finally:
            on_a.close()
            on_b.close()

    in_one_window(60, attempt)


def login(srv: ServerProcess, user_id: str, password: str) -> httpx.Response:
    return httpx.post(srv.base + "/api/auth/login", json={"user_id": user_id,
                                                          "password": password})


def test_failed_logins_lock_the_user_id_across_processes(
        twins: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = twins
    admin = Api.login(a.base, "admin", "admin-pass")

    def attempt() -> None:
        victim, bystander = uid("kefu"), uid("kefu")
        for user_id in (victim, bystander):
            admin.ok("POST", "/api/users/create", {"id": user_id, "name": "v",
                                                   "user_type": "kefu", "password": "right"})
        for srv in (a, b, a)[:LOGIN_LIMIT]:
            assert_error(login(srv, victim, "wrong"), 401, "invalid_credentials")
        # locked on both processes, even with the right password
        assert_429(login(b, victim, "right"), 3600)
        assert_429(login(a, victim, "right"), 3600)
        # nobody else is
        assert login(b, bystander, "right").status_code == 200
        # an unknown id locks the same way (no user enumeration through the lock)
        ghost = uid("nobody")
        for _ in range(LOGIN_LIMIT):
            assert_error(login(a, ghost, "x"), 401, "invalid_credentials")
        assert_429(login(b, ghost, "x"), 3600)

    in_one_window(3600, attempt)


def test_a_successful_login_clears_the_failure_count(server: ServerProcess,
                                                     admin: Api) -> None:
    user_id = uid("kefu")
    admin.ok("POST", "/api/users/create", {"id": user_id, "name": "u", "user_type": "kefu",
                                           "password": "right"})
    for _ in range(2):
        for _ in range(LOGIN_LIMIT - 1):
            assert_error(login(server, user_id, "wrong"), 401)
        assert login(server, user_id, "right").status_code == 200
    # in English too, and the lock itself
    for _ in range(LOGIN_LIMIT):
        login(server, user_id, "wrong")
    r = httpx.post(server.base + "/api/auth/login", json={"user_id": user_id,
                                                          "password": "right"},
                   headers={"Accept-Language": "en"})
    assert_429(r, 3600)
    assert r.json()["message"] == "Too many requests"
