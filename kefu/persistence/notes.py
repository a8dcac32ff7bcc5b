"""Private notes (issue 15, item 3): what agents write to each other inside a
conversation. Kept in a list of their own per session — never in the session's message
stream, so no path that reads messages (WebSocket delivery, resume, REST pages, search,
export, the dashboard's transcript) can ever hand one to a customer. Blocking; called from
the executor."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence.redis import Store

MAX_NOTES = 500  # kept per session (the oldest go first)


def add(store: Store, sid: str, author: str, author_name: str, content: str) -> dict[str, Any]:
    note = {"id": f"note_{uuid.uuid4().hex[:16]}", "session_id": sid, "from": author,
            "from_name": author_name, "content": content, "timestamp": iso(now())}
    key = store.keys.notes(sid)
    pipe = store.client.pipeline(transaction=True)
    pipe.rpush(key, orjson.dumps(note))
    pipe.ltrim(key, -MAX_NOTES, -1)
    pipe.execute()
    return note


def of_session(store: Store, sid: str) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in store.client.lrange(store.keys.notes(sid), 0, -1)]
