"""Pushed, not polled (issue 14, item 6): when the queue changes, every online agent gets
a ``waiting`` frame with the list (at most once per tick), so the console needs no timer."""

from __future__ import annotations

from tests.helpers import WS, Api, ServerProcess


def test_agents_hear_the_queue_change(fresh_server: ServerProcess) -> None:
    srv = fresh_server
    admin = Api.login(srv.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    k = WS(srv.ws_url, kefu.token)
    sockets = [k]
    try:
        k.expect("hello")
        first_id, first = admin.guest("先来")
        c1 = WS(srv.ws_url, first.token)
        sockets.append(c1)
        c1.expect("hello")
        c1.send(type="request_service")
        c1.expect("assigned")  # the only seat is taken
        second_id, second = admin.guest("后到")
        c2 = WS(srv.ws_url, second.token)
        sockets.append(c2)
        c2.expect("hello")
        c2.send(type="request_service", note="退货")
        c2.expect("queued")
        pushed = k.expect("waiting", where=lambda f: f["total"] == 1)
        (entry,) = pushed["waiting_customers"]
        assert entry["customer_id"] == second_id and entry["note"] == "退货"
        assert entry["position"] == 1 and entry["customer_name"] == "后到"
        (polled,) = admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]
        same = {k: v for k, v in polled.items() if k != "waiting_duration_seconds"}
        assert {k: entry[k] for k in same} == same  # what GET /api/kefu/waiting says
        # what it writes while it waits shows in the list (issue 15: it did not)
        c2.send(type="message", client_msg_id="p1", content="我想退货，订单 9")
        c2.expect("ack")
        shown = k.expect("waiting", where=lambda f: f["total"] == 1
                         and f["waiting_customers"][0]["preview"] is not None)
        assert shown["waiting_customers"][0]["preview"] == "我想退货，订单 9"
        # the seat frees: the waiting customer is assigned and the agents hear it is gone
        sid = f"{first_id}:{kefu_id}"
        kefu.ok("POST", f"/api/sessions/{sid}/end")
        c2.expect("assigned")
        assert k.expect("waiting", where=lambda f: f["total"] == 0)["waiting_customers"] == []
    finally:
        for ws in sockets:
            ws.close()
