"""Customer context (issue 15, item 4): the admin's pre-chat form and the answers checked
against it, custom attributes and their bounds, the signed identify (one customer on
every device) and who may read a customer's profile and past conversations."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.helpers import CREATED, WS, Api, ServerProcess, connect, uid

FORM = {
    "name": {"shown": True, "required": True},
    "email": {"shown": True, "required": True},
    "phone": {"shown": True, "required": False},
    "fields": [
        {"key": "plan", "label_zh": "套餐", "label_en": "Plan", "type": "select",
         "options": ["基础版", "专业版"], "required": True},
        {"key": "order_no", "label_zh": "订单号", "label_en": "Order number"},
    ],
}


@pytest.fixture()
def form(admin: Api) -> Iterator[dict[str, Any]]:
    """The test's pre-chat form, set back to the default afterwards (it is global)."""
    yield admin.ok("PUT", "/api/widget/form", FORM)
    admin.ok("PUT", "/api/widget/form", {})


def sign(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identify(server: ServerProcess, body: dict[str, Any]) -> Any:
    r = Api(server.base).call("POST", "/api/auth/identify", body)
    if r.status_code == 200:
        CREATED.append((server.base, "kehu", r.json()["data"]["user"]["id"]))
    return r


def test_prechat_answers_are_checked_against_the_form(server: ServerProcess, admin: Api,
                                                      form: dict[str, Any]) -> None:
    assert Api(server.base).ok("GET", "/api/widget/form") == form
    for bad in ({"name": {"shown": False, "required": True}},
                {"fields": [{"key": "plan", "label_zh": "a", "label_en": "a", "type": "select"}]},
                {"fields": [{"key": "email", "label_zh": "a", "label_en": "a"}]},
                {"fields": [{"key": "x", "label_zh": "a", "label_en": "a"}] * 2},
                {"fields": [{"key": "Bad Key", "label_zh": "a", "label_en": "a"}]}):
        assert admin.call("PUT", "/api/widget/form", bad).status_code == 400, bad
    kehu_id, kehu = admin.guest()

    def refused(body: dict[str, Any]) -> dict[str, str]:
        r = kehu.call("POST", "/api/widget/prechat", body)
        assert r.status_code == 400, r.text
        return r.json()["details"]

    assert refused({}) == {"name": "required", "email": "required", "fields.plan": "required"}
    good = {"name": "王小明", "email": "wang@example.com", "phone": "+86 138 0000 0000",
            "fields": {"plan": "专业版", "order_no": "A-1001"}}
    assert refused({**good, "email": "not-an-email"}) == {"email": "not an email address"}
    assert refused({**good, "phone": "call me"}) == {"phone": "not a phone number"}
    assert refused({**good, "fields": {"plan": "白金版"}}) == {
        "fields.plan": "not one of the options"}
    assert refused({**good, "fields": {"plan": "专业版", "color": "红"}}) == {
        "fields.color": "not a field of the form"}
    assert "fields.order_no" in refused({**good, "fields": {"plan": "专业版",
                                                            "order_no": "x" * 501}})
    assert kehu.ok("GET", f"/api/customers/{kehu_id}")["customer"]["email"] is None
    kehu.ok("POST", "/api/widget/prechat", good)
    me = kehu.ok("GET", f"/api/customers/{kehu_id}")["customer"]
    assert (me["name"], me["email"], me["phone"], me["fields"], me["identified"]) == (
        "王小明", "wang@example.com", "+86 138 0000 0000",
        {"plan": "专业版", "order_no": "A-1001"}, False)
    # the form's choice, not the customer's: an email the form does not ask is refused
    admin.ok("PUT", "/api/widget/form", {})
    assert refused({"email": "wang@example.com"}) == {"email": "not asked by the form"}
    assert admin.call("POST", "/api/widget/prechat", {}).status_code == 403


def test_attributes_are_bounded_and_staff_only(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu()
    _other_id, other = admin.create_kefu()
    kehu_id, kehu = admin.guest()
    admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    path = f"/api/customers/{kehu_id}/attributes"
    got = kefu.ok("PUT", path, {"attributes": {"plan": "pro", "seats": 12, "vip": True,
                                              "ltv": 99.5}})["attributes"]
    assert got == {"ltv": 99.5, "plan": "pro", "seats": 12, "vip": True}
    assert kefu.ok("PUT", path, {"attributes": {"vip": None}})["attributes"] == {
        "ltv": 99.5, "plan": "pro", "seats": 12}
    for bad in ({"attributes": {"bad key": "x"}}, {"attributes": {"k": "x" * 257}},
                {"attributes": {"k": {"nested": 1}}}, {"attributes": {"k": [1]}},
                {"attributes": {f"k{i}": i for i in range(51)}}, {"attributes": "x"}):
        assert kefu.call("PUT", path, bad).status_code == 400, bad
    # the bound holds across calls, settled in the script: nothing of the refused call
    admin.ok("PUT", path, {"attributes": {f"a{i}": i for i in range(47)}})
    r = kefu.call("PUT", path, {"attributes": {"b1": 1, "b2": 2, "plan": "max"}})
    assert r.status_code == 400 and "attributes" in r.json()["details"], r.text
    attrs = admin.ok("GET", f"/api/customers/{kehu_id}")["customer"]["attributes"]
    assert len(attrs) == 50 and attrs["plan"] == "pro" and "b1" not in attrs
    assert kefu.ok("PUT", path, {"attributes": {"a0": None, "b1": 1}})["attributes"]["b1"] == 1
    assert other.call("PUT", path, {"attributes": {"x": 1}}).status_code == 404
    assert kehu.call("PUT", path, {"attributes": {"x": 1}}).status_code == 403


def test_identify_one_customer_on_every_device(server: ServerProcess, admin: Api,
                                               sockets: list[WS]) -> None:
    made = admin.ok("POST", "/api/widget/sites", {"name": "商城"})
    site, secret = made["site"]["id"], made["secret"]
    assert site in {s["id"] for s in admin.ok("GET", "/api/widget/sites")["sites"]}
    assert secret not in admin.call("GET", "/api/widget/sites").text
    user = uid("shop-user")
    body = {"site": site, "user_id": user, "user_hash": sign(secret, user), "name": "李雷",
            "email": "li@example.com", "attributes": {"plan": "gold"}}
    users_before = admin.ok("GET", "/api/users", params={"limit": 1})["pagination"]["total"]
    # a bad hash, another site's user, an unknown site: refused, nothing made
    assert identify(server, {**body, "user_hash": sign("wrong", user)}).status_code == 401
    assert identify(server, {**body, "user_hash": sign(secret, user + "x")}).status_code == 401
    assert identify(server, {**body, "site": "site_00000000beef"}).status_code == 404
    assert identify(server, {**body, "user_hash": "zz"}).status_code == 400
    assert admin.ok("GET", "/api/users", params={"limit": 1})["pagination"]["total"] == \
        users_before

    phone = identify(server, body).json()["data"]
    laptop = identify(server, {k: v for k, v in body.items() if k != "attributes"}
                      ).json()["data"]
    kehu_id = phone["user"]["id"]
    assert laptop["user"]["id"] == kehu_id and laptop["token"] != phone["token"]
    profile = admin.ok("GET", f"/api/customers/{kehu_id}")["customer"]
    assert (profile["name"], profile["email"], profile["identified"], profile["site"],
            profile["external_id"], profile["attributes"]) == (
        "李雷", "li@example.com", True, site, user, {"plan": "gold"})
    # both devices' sockets get the customer's frames
    ws_phone = connect(server, Api(server.base, phone["token"]), sockets)
    ws_laptop = connect(server, Api(server.base, laptop["token"]), sockets)
    kefu_id, _kefu = admin.create_kefu()
    sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})[
        "session_id"]
    assert ws_phone.expect("assigned")["session"]["session_id"] == sid
    assert ws_laptop.expect("assigned")["session"]["session_id"] == sid
    ws_phone.send(type="message", client_msg_id="p1", content="手机上发的")
    ws_phone.expect("ack")
    assert ws_laptop.expect("message")["message"]["content"] == "手机上发的"
    admin.ok("POST", f"/api/sessions/{sid}/end")
    # a returning identified customer keeps its history (a third device, later)
    again = identify(server, body).json()["data"]
    mine = Api(server.base, again["token"]).ok("GET", f"/api/customers/{kehu_id}/sessions")
    assert [s["session_id"] for s in mine["sessions"]] == [sid]
    # a rotated secret: the old hash stops working at once; a removed site: 404
    rotated = admin.ok("POST", f"/api/widget/sites/{site}/secret")["secret"]
    assert identify(server, body).status_code == 401
    assert identify(server, {**body, "user_hash": sign(rotated, user)}).json()["data"][
        "user"]["id"] == kehu_id
    admin.ok("DELETE", f"/api/widget/sites/{site}")
    assert identify(server, {**body, "user_hash": sign(rotated, user)}).status_code == 404


def test_identify_race_binds_one_customer(server: ServerProcess, admin: Api) -> None:
    made = admin.ok("POST", "/api/widget/sites", {"name": "并发"})
    site, secret = made["site"]["id"], made["secret"]
    user = uid("racer")
    body = {"site": site, "user_id": user, "user_hash": sign(secret, user)}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _i: identify(server, body), range(8)))
    assert {r.status_code for r in replies} == {200}
    assert len({r.json()["data"]["user"]["id"] for r in replies}) == 1
    admin.ok("DELETE", f"/api/widget/sites/{site}")


def test_profile_and_past_conversations_for_the_agents_who_served(
        server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    a_id, a = admin.create_kefu("客服甲")
    b_id, b = admin.create_kefu("客服乙")
    _c_id, c = admin.create_kefu("客服丙")
    kehu_id, kehu = admin.guest("张三")
    _stranger_id, stranger = admin.guest()
    ws = connect(server, kehu, sockets)
    first = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})["session_id"]
    ws.expect("assigned")
    ws.send(type="message", client_msg_id="m1", content="我的订单还没到")
    ws.expect("ack")
    admin.ok("POST", f"/api/sessions/{first}/end")
    ws.send(type="rate", session_id=first, score=4, comment="还行")
    ws.expect("rated")
    second = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": b_id})[
        "session_id"]
    # B serves the customer now: its profile, both conversations (newest first, with the
    # agent, times, count and rating) and the earlier one's messages with A
    listed = b.ok("GET", f"/api/customers/{kehu_id}/sessions")
    assert listed["total"] == 2
    newest, earlier = listed["sessions"]
    assert (newest["session_id"], newest["kefu_name"], newest["status"]) == (
        second, "客服乙", "active")
    assert (earlier["session_id"], earlier["kefu_name"], earlier["status"],
            earlier["message_count"], earlier["satisfaction_score"],
            earlier["rating_comment"]) == (first, "客服甲", "completed", 1, 4.0, "还行")
    assert earlier["created_at"] and earlier["ended_at"]
    msgs = b.ok("GET", f"/api/sessions/{first}/messages")["messages"]
    assert [m["content"] for m in msgs] == ["我的订单还没到"]
    assert b.ok("GET", f"/api/customers/{kehu_id}")["customer"]["name"] == "张三"
    # A served it: still reads; C never did, another customer neither: 404 like nobody
    assert a.ok("GET", f"/api/customers/{kehu_id}/sessions")["total"] == 2
    for api in (c, stranger):
        for path in (f"/api/customers/{kehu_id}", f"/api/customers/{kehu_id}/sessions",
                     f"/api/sessions/{first}/messages"):
            r = api.call("GET", path)
            assert r.status_code == 404, (path, r.text)
    assert c.call("GET", "/api/customers/ghost_zz").json()["message"] == \
        c.call("GET", f"/api/customers/{kehu_id}").json()["message"]
    assert admin.call("GET", f"/api/customers/{a_id}").status_code == 404  # not a customer
    assert kehu.ok("GET", f"/api/customers/{kehu_id}/sessions")["total"] == 2
    assert b.call("GET", f"/api/customers/{kehu_id}/sessions",
                  params={"limit": 0}).status_code == 400
    admin.ok("POST", f"/api/sessions/{second}/end")
