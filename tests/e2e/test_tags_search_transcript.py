"""Tags on conversations, the agent's own search and the customer's transcript (issue 15,
items 3 and 6) over REST and WebSocket against the real server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.helpers import WS, Api, ServerProcess, open_pair, uid


def tags_of(api: Api, sid: str) -> list[str]:
    return api.ok("GET", f"/api/sessions/{sid}/tags")["tags"]


def listed(api: Api, tag: str) -> list[str]:
    data = api.ok("GET", "/api/sessions/list", params={"tag": tag})
    assert data["pagination"]["total"] == len(data["sessions"])
    return [s["session_id"] for s in data["sessions"]]


def test_tags_bounds_rights_index_and_analytics(server: ServerProcess, admin: Api) -> None:
    p = open_pair(server, admin)
    _, stranger = admin.create_kefu()
    vip, refund = uid("VIP"), uid("退款")
    try:
        url = f"/api/sessions/{p.sid}/tags"
        got = p.kefu.ok("PUT", url, {"tags": [vip, f"  {refund}  x ", vip.lower()]})
        assert got["tags"] == sorted([vip.lower(), f"{refund.casefold()}-x"])
        assert p.k.expect("tags")["tags"] == got["tags"]  # the agent's other tabs follow
        assert tags_of(admin, p.sid) == got["tags"]
        # bounds: 400 with details, nothing changed
        for bad in ([f"t{i}" for i in range(11)], ["a/b"], ["x" * 33], [""], ["   "]):
            r = p.kefu.call("PUT", url, {"tags": bad})
            assert r.status_code == 400 and "details" in r.json(), bad
        assert p.kefu.call("PUT", url, {"tags": "vip"}).status_code == 400
        assert tags_of(p.kefu, p.sid) == got["tags"]
        # rights: another agent 404 (not its session), the customer 403, none 401
        assert stranger.call("PUT", url, {"tags": ["x"]}).status_code == 404
        assert stranger.call("GET", url).status_code == 404
        assert p.kehu.call("PUT", url, {"tags": ["x"]}).status_code == 403
        assert p.kehu.call("GET", "/api/sessions/list",
                           params={"tag": vip}).status_code == 403
        assert Api(server.base).call("GET", url).status_code == 401
        # the list filter (any case), scoped as the list is
        assert listed(p.kefu, vip.upper()) == [p.sid]
        assert listed(admin, vip) == [p.sid]
        assert listed(stranger, vip) == []
        item = p.kefu.ok("GET", "/api/sessions/list")["sessions"][0]
        assert item["session_id"] == p.sid and item["tags"] == got["tags"]
        assert "tags" not in p.kehu.ok("GET", "/api/sessions/list")["sessions"][0]
        used = {t["tag"]: t["sessions"] for t in p.kefu.ok("GET", "/api/tags")["tags"]}
        assert used[vip.lower()] == 1
        by_tag = {t["tag"]: t for t in admin.ok("GET", "/api/analytics/tags")["tags"]}
        assert by_tag[vip.lower()]["sessions"] == 1
        assert p.kefu.call("GET", "/api/analytics/tags").status_code == 403
        # retag: the old tag's index and count go, the new one's come
        p.kefu.ok("PUT", url, {"tags": [refund]})
        assert listed(admin, vip) == [] and listed(admin, refund) == [p.sid]
        used = {t["tag"] for t in p.kefu.ok("GET", "/api/tags")["tags"]}
        assert vip.lower() not in used and refund.casefold() in used
        # concurrent retags: whichever wins, the index agrees with the session
        choices = [[f"{refund}-{i % 3}", vip] for i in range(12)]
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda t: admin.ok("PUT", url, {"tags": t}), choices))
        final = tags_of(admin, p.sid)
        for i in range(3):
            tag = f"{refund}-{i}".casefold()
            assert (listed(admin, tag) == [p.sid]) == (tag in final)
        # remove them all
        admin.ok("PUT", url, {"tags": []})
        assert tags_of(p.kefu, p.sid) == [] and listed(admin, vip) == []
        assert vip.lower() not in {t["tag"] for t in admin.ok("GET", "/api/tags")["tags"]}
    finally:
        p.close()


def test_agent_search_is_scoped_to_its_own(server: ServerProcess, admin: Api,
                                           sockets: list[WS]) -> None:
    word, gone = uid("发票"), uid("删除")
    a, b = open_pair(server, admin), open_pair(server, admin)
    c_id, c = admin.create_kefu()
    cw = WS(server.ws_url, c.token)
    sockets.append(cw)
    cw.expect("hello")
    try:
        for p in (a, b):
            p.c.send(type="message", client_msg_id="m1", content=f"我要开{word}")
            p.c.expect("ack")
        a.c.send(type="message", client_msg_id="m2", content=f"{gone} 这句")
        deleted = a.c.expect("ack")["message"]["id"]
        admin.ok("DELETE", f"/api/messages/{deleted}")

        def found(api: Api, **params: str) -> list[str]:
            return [r["session"]["session_id"]
                    for r in api.ok("GET", "/api/kefu/search", params=params)["results"]]

        hit = a.kefu.ok("GET", "/api/kefu/search", params={"q": word.upper()})["results"]
        assert [h["session"]["session_id"] for h in hit] == [a.sid]
        assert word in hit[0]["matches"][0]["content"] and hit[0]["match_count"] == 1
        assert found(b.kefu, q=word) == [b.sid]
        assert set(found(admin, q=word)) == {a.sid, b.sid}
        assert found(a.kefu, q=gone) == []  # a deleted message never matches
        # by the customer's id, and by tag (another agent's tag stays invisible to B)
        assert found(a.kefu, q=a.kehu_id) == [a.sid]
        a.kefu.ok("PUT", f"/api/sessions/{a.sid}/tags", {"tags": [word]})
        assert found(a.kefu, tag=word) == [a.sid] == found(admin, tag=word)
        assert found(b.kefu, tag=word) == [] and found(b.kefu, q=word, tag=word) == []
        # a customer transferred to C: C finds the conversation it came from
        a.kefu.ok("POST", f"/api/sessions/{a.sid}/transfer", {"to_kefu_id": c_id})
        assert a.sid in found(c, q=word)
        # bounds and rights
        for params in ({}, {"q": "x" * 101}, {"q": "a", "limit": "51"}, {"tag": "a/b"}):
            assert a.kefu.call("GET", "/api/kefu/search", params=params).status_code == 400
        assert a.kehu.call("GET", "/api/kefu/search", params={"q": word}).status_code == 403
        # the seed's message search stays admin only
        assert a.kefu.call("POST", "/api/messages/search", {"keyword": word}).status_code == 403
    finally:
        a.close()
        b.close()
        c.call("POST", f"/api/sessions/{a.kehu_id}:{c_id}/end")


def test_the_customer_ends_and_downloads_its_transcript(server: ServerProcess,
                                                        admin: Api) -> None:
    p = open_pair(server, admin)
    _, stranger = admin.create_kefu()
    other_id, other_kehu = admin.guest()
    try:
        p.c.send(type="message", client_msg_id="c1", content="我的订单没到")
        p.c.expect("ack")
        p.k.send(type="message", client_msg_id="k1", content="帮您查", session_id=p.sid)
        p.k.expect("ack")
        p.c.send(type="message", client_msg_id="c2", content="卡号 1234")
        removed = p.c.expect("ack")["message"]["id"]
        admin.ok("DELETE", f"/api/messages/{removed}")
        p.kefu.ok("POST", f"/api/sessions/{p.sid}/notes", {"content": "内部：难缠"})
        # the customer ends it; its agent hears who did
        p.kehu.ok("POST", f"/api/sessions/{p.sid}/end")
        ended = p.k.expect("session_ended")
        assert ended["session_id"] == p.sid and ended["by"] == p.kehu_id

        url = f"/api/sessions/{p.sid}/transcript"
        for who in (p.kehu, p.kefu, admin):  # after the end too
            r = who.call("GET", url)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/plain")
            assert r.headers["content-disposition"].startswith("attachment;")
            assert ".txt" in r.headers["content-disposition"]
            text = r.text
            assert "我的订单没到" in text and "帮您查" in text and "[消息已删除]" in text
            assert "1234" not in text and "难缠" not in text and "会话已结束" in text
        en = p.kehu.call("GET", url, headers={"Accept-Language": "en"}).text
        assert "[message deleted]" in en and "Conversation ended" in en
        got = p.kehu.call("GET", url, params={"format": "json"})
        assert got.headers["content-type"].startswith("application/json")
        assert "x-transcript-truncated" not in got.headers
        data = got.json()
        assert {m["session_id"] for m in data} == {p.sid}
        chat = [m for m in data if m["content_type"] != "System"]
        assert [m["content"] for m in chat] == ["我的订单没到", "帮您查", ""]
        assert chat[2]["deleted"] is True and "难缠" not in str(data)
        # rights: nobody else, and no other format
        assert other_kehu.call("GET", url).status_code == 404
        assert stranger.call("GET", url).status_code == 404
        assert Api(server.base).call("GET", url).status_code == 401
        assert p.kehu.call("GET", url, params={"format": "pdf"}).status_code == 400
        assert other_id not in str(data)
    finally:
        p.close()
