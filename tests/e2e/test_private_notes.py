"""Private notes between agents (issue 15, item 3): written over the WebSocket or REST,
read by the agents of the conversation and admins — and never given to the customer on any
path: its socket, a resume, the REST history, search, export, the dashboard's transcript,
the downloadable transcript and the agent's own search."""

from __future__ import annotations

from tests.helpers import WS, Api, ServerProcess, open_pair

SECRET = "内部备注：此客户曾两次退款"


def test_a_note_never_reaches_the_customer(server: ServerProcess, admin: Api,
                                           sockets: list[WS]) -> None:
    p = open_pair(server, admin)
    try:
        p.c.send(type="message", client_msg_id="c1", content="你好")
        p.c.expect("ack")
        p.k.expect("message")
        # over the WebSocket: the agent's own connections hear it, as confirmation
        p.k.send(type="note", session_id=p.sid, content=SECRET)
        by_ws = p.k.expect("note")["note"]
        assert (by_ws["content"], by_ws["from"]) == (SECRET, p.kefu_id)
        # over REST (an admin, say): the session's agent hears it
        by_rest = admin.ok("POST", f"/api/sessions/{p.sid}/notes",
                           {"content": SECRET + "（管理员）"})["note"]
        assert p.k.expect("note")["note"]["id"] == by_rest["id"]
        listed = p.kefu.ok("GET", f"/api/sessions/{p.sid}/notes")["notes"]
        assert [n["id"] for n in listed] == [by_ws["id"], by_rest["id"]]

        # the customer: not over its socket (a message sent after the notes arrives
        # first of anything new), not on resume, not in its REST history, and not allowed
        p.k.send(type="message", client_msg_id="k1", content="在的", session_id=p.sid)
        p.k.expect("ack")
        assert p.c.expect("message")["message"]["content"] == "在的"
        assert not [f for f in p.c.seen if f["type"] == "note" or SECRET in str(f)]
        again = WS(server.ws_url, p.kehu.token)
        sockets.append(again)
        again.expect("hello")
        again.send(type="resume", since={p.sid: 0})
        replayed = [again.expect("message")["message"]["content"] for _ in range(2)]
        assert again.expect("resumed")["count"] == 2 and replayed == ["你好", "在的"]
        assert not [f for f in again.seen if SECRET in str(f)]
        history = p.kehu.ok("GET", f"/api/sessions/{p.sid}/messages")
        assert SECRET not in str(history)
        assert p.kehu.call("GET", f"/api/sessions/{p.sid}/notes").status_code == 403
        assert p.kehu.call("POST", f"/api/sessions/{p.sid}/notes",
                           {"content": "x"}).status_code == 403
        p.c.send(type="note", session_id=p.sid, content="x")
        assert p.c.expect("error")["code"] == "forbidden"

        # nor on an admin's paths that show messages: search, export, the transcript
        found = admin.ok("POST", "/api/messages/search", {"keyword": "退款"})
        assert SECRET not in str(found)
        for fmt in ("json", "csv", "ndjson"):
            exported = admin.call("POST", "/api/messages/export",
                                  {"session_id": p.sid, "format": fmt})
            assert exported.status_code == 200 and "你好" in exported.text
            assert SECRET not in exported.text
        transcript = admin.ok("GET", f"/api/sessions/{p.sid}/messages",
                              params={"include_system": "true"})
        assert SECRET not in str(transcript)
        for caller in (p.kehu, admin):  # the downloadable transcript (issue 15, item 6)
            for fmt in ("txt", "json"):
                got = caller.call("GET", f"/api/sessions/{p.sid}/transcript",
                                  params={"format": fmt})
                assert got.status_code == 200 and "你好" in got.text
                assert SECRET not in got.text and "退款" not in got.text
        # nor the agent's own search (a note is not a message)
        assert p.kefu.ok("GET", "/api/kefu/search", params={"q": "退款"})["results"] == []
        # another agent, not of this conversation, cannot read them
        _, stranger = admin.create_kefu()
        assert stranger.call("GET", f"/api/sessions/{p.sid}/notes").status_code == 404
    finally:
        p.close()
