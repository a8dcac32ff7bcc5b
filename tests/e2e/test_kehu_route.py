"""A kehu's messages keep their order while their route changes.

The loop sends a kehu's messages through the dispatcher until the dispatcher reports that
nothing of that kehu is still inside it; then straight to the session (``Hub.route``). A
burst sent without waiting for acks crosses that switch, and a transfer in the middle of a
burst makes the old session hand messages back to the dispatcher. In both cases every
message must be stored once, and in the order it was sent.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.helpers import WS, Api, ServerProcess, open_pair, uid


def acks(ws: WS, count: int) -> dict[str, dict[str, Any]]:
    """Wait for ``count`` acks; the stored message of each, by client_msg_id."""
    got: dict[str, dict[str, Any]] = {}
    while len(got) < count:
        f = ws.expect("ack", timeout=15)
        assert f["client_msg_id"] not in got, f"acked twice: {f['client_msg_id']}"
        got[f["client_msg_id"]] = f["message"]
    return got


def test_a_burst_is_stored_in_the_order_it_was_sent(server: ServerProcess, admin: Api) -> None:
    pair = open_pair(server, admin)
    try:
        tag = uid("b")
        cmids = [f"{tag}-{i}" for i in range(80)]
        for i, cmid in enumerate(cmids):
            pair.c.send(type="message", client_msg_id=cmid, content=f"m{i}")
        stored = acks(pair.c, len(cmids))
        seqs = [stored[c]["seq"] for c in cmids]
        assert all(stored[c]["session_id"] == pair.sid for c in cmids)
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        history = pair.kehu.ok("GET", f"/api/sessions/{pair.sid}/messages",
                               params={"limit": 100})
        contents = [m["content"] for m in history["messages"]
                    if m.get("from") == pair.kehu_id]
        assert contents == [f"m{i}" for i in range(80)]
    finally:
        pair.close()


def test_a_transfer_mid_burst_keeps_every_message_once_and_in_order(
        server: ServerProcess, admin: Api) -> None:
    pair = open_pair(server, admin)
    kefu2_id, kefu2 = admin.create_kefu()
    k2 = WS(server.ws_url, kefu2.token)
    k2.expect("hello")
    try:
        tag = uid("t")
        cmids = [f"{tag}-{i}" for i in range(60)]
        transferred = threading.Event()

        def transfer() -> None:
            admin.ok("POST", f"/api/sessions/{pair.sid}/transfer",
                     {"to_kefu_id": kefu2_id, "reason": "drill"})
            transferred.set()

        worker = threading.Thread(target=transfer)
        for i, cmid in enumerate(cmids):
            if i == 20:
                worker.start()
            pair.c.send(type="message", client_msg_id=cmid, content=f"m{i}")
        worker.join(15)
        assert transferred.is_set()
        stored = acks(pair.c, len(cmids))
        sessions = [stored[c]["session_id"] for c in cmids]
        new_sid = f"{pair.kehu_id}:{kefu2_id}"
        assert set(sessions) <= {pair.sid, new_sid}
        # everything the old session took was sent before everything the new one took
        first_new = sessions.index(new_sid) if new_sid in sessions else len(sessions)
        assert sessions[first_new:] == [new_sid] * (len(sessions) - first_new)
        for sid in set(sessions):
            seqs = [stored[c]["seq"] for c in cmids if stored[c]["session_id"] == sid]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        k2.close()
        pair.close()
