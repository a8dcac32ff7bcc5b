"""Time-driven routing end to end (issue 14, items 2 and 3), on a server of its own with
short settings: priority ages (``KEFU_PRIORITY_HEAD_START_SECONDS=0.5``: a low customer
that waited overtakes a later high one), and offers expire and, missed twice in a row
(``KEFU_OFFER_MISSES_AWAY=2``), set the agent away. The waits here are for the clock (a
head start, an offer's expiry), not for an actor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import WS, Api, ServerProcess, connect, running

ABANDON = 5.0  # KEFU_QUEUE_ABANDON_SECONDS: a page gone this long leaves the queue


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("quick")), KEFU_AGENT_GRACE_SECONDS="60",
                 KEFU_PRIORITY_HEAD_START_SECONDS="0.5", KEFU_OFFER_MISSES_AWAY="2",
                 KEFU_QUEUE_ABANDON_SECONDS=str(ABANDON)) as srv:
        yield srv


def test_a_low_priority_customer_that_waited_overtakes_a_later_high_one(
        quick: ServerProcess, sockets: list[WS]) -> None:
    admin = Api.login(quick.base, "admin", "admin-pass")
    ids = {}
    for name, priority in (("low", "low"), ("normal", "normal")):
        ids[name], api = admin.guest(name)
        connect(quick, api, sockets).send(type="request_service", priority=priority)
    order = lambda: [w["customer_id"] for w in  # noqa: E731
                     admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]
    deadline = time.monotonic() + 10
    while len(order()) < 2:  # (both requests handled)
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(1.2)  # the low one ages past 2 × the head start
    ids["high"], api = admin.guest("high")
    c = connect(quick, api, sockets)
    c.send(type="request_service", priority="high")
    c.expect("queued")
    # effective arrivals: normal t+0.05, low t+0.5, high t+1.2−0.5: low before high
    assert order() == [ids["normal"], ids["low"], ids["high"]]


def test_offers_expire_and_two_misses_set_the_agent_away(quick: ServerProcess,
                                                          sockets: list[WS]) -> None:
    admin = Api.login(quick.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu()
    admin.ok("POST", "/api/teams", {"id": "quick-offer", "name": "快", "assignment": "offer",
                                    "offer_seconds": 1})
    admin.ok("PUT", f"/api/teams/quick-offer/members/{kefu_id}", {"skill": 3})
    k = connect(quick, kefu, sockets)
    kehu_id, kehu = admin.guest()
    c = connect(quick, kehu, sockets)
    c.send(type="request_service", team="quick-offer")
    first = k.expect("offer")
    assert k.expect("offer_closed")["outcome"] == "expired"  # unanswered for a second
    assert c.expect("connecting", where=lambda f: not f["active"])["team"] == "quick-offer"
    second = k.expect("offer")  # nobody else: offered to it again
    assert second["offer_id"] != first["offer_id"]
    away = k.expect("away", timeout=10)
    assert (away["reason"], away["misses"]) == ("missed_offers", 2)
    assert admin.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]["set_status"] == "away"
    assert [f["outcome"] for f in k.seen if f["type"] == "offer_closed"] == ["expired"] * 2
    assert kehu_id in [w["customer_id"] for w in
                       admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]  # waits on


def test_a_customer_whose_page_is_gone_does_not_take_a_seat_ahead(quick: ServerProcess,
                                                                  sockets: list[WS]) -> None:
    """Issue 15: an agent signing in was given customers who had closed their pages while
    a live one waited. The one who left keeps its place; the one who is there goes first."""
    admin = Api.login(quick.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    gone_id, gone = admin.guest("关了页面的客户")
    g = connect(quick, gone, sockets)
    g.send(type="request_service")
    g.expect("queued")
    g.close()
    here_id, here = admin.guest("还在的客户")
    h = connect(quick, here, sockets)
    h.send(type="request_service")
    h.expect("queued")

    def waiting() -> dict[str, dict]:
        return {w["customer_id"]: w for w in
                admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]}

    deadline = time.monotonic() + 10
    while waiting()[gone_id]["status"] != "Offline":  # the dispatcher saw the page go
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert waiting()[gone_id]["position"] < waiting()[here_id]["position"]
    connect(quick, kefu, sockets)  # one seat comes online
    assert h.expect("assigned")["session"]["kefu_id"] == kefu_id
    assert gone_id in waiting()  # it keeps its place for when it comes back


def test_a_customer_whose_page_stays_gone_leaves_the_queue_and_queues_again_on_return(
        quick: ServerProcess, sockets: list[WS]) -> None:
    """A closed page keeps its place for ``KEFU_QUEUE_ABANDON_SECONDS``, then the entry
    goes (the system log says so; webhooks get ``queue.abandoned``, reason page_gone); a
    customer still there stays; the one who left, back, is queued again behind it."""
    admin = Api.login(quick.base, "admin", "admin-pass")
    gone_id, gone = admin.guest("走了的客户")
    g = connect(quick, gone, sockets)
    g.send(type="request_service")
    g.expect("queued")
    here_id, here = admin.guest("一直在的客户")
    h = connect(quick, here, sockets)
    h.send(type="request_service")
    h.expect("queued")
    g.close()
    closed = time.monotonic()

    def waiting() -> list[str]:
        return [w["customer_id"] for w in
                admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]

    while gone_id in waiting():  # the dispatcher's clock, not an actor, is waited for
        assert time.monotonic() - closed < ABANDON + 15, "never left the queue"
        time.sleep(0.1)
    assert time.monotonic() - closed >= ABANDON - 1  # not before its time
    assert here_id in waiting()
    events = admin.ok("GET", "/api/system/logs", params={"limit": 200})["logs"]
    assert any(e.get("event") == "queue_abandoned" and gone_id in str(e)
               for e in events), events[:5]
    back = connect(quick, gone, sockets)
    back.send(type="request_service")
    back.expect("queued")
    order = waiting()
    assert order.index(here_id) < order.index(gone_id)

