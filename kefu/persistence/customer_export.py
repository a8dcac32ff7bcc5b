"""Everything about one customer as one JSON document (issue 16, item 4: data export).

``{"format": "kefu.customer-export", "version": 1, "exported_at", "customer": {id, name,
user_type, created_at, email, phone, fields, attributes, identified, site, external_id,
last_seen}, "sessions": [{…the session object, "statistics", "tags", "messages": [stored
messages, oldest first, tombstones applied]}], "messages_left": [… with their replies],
"uploads": [metadata with the download URL]}``.

Private notes between agents are not part of it (agents' internal work, not the
customer's data; an erasure deletes them). The uploads are those the customer made and
those made in its sessions (the set an erasure deletes). Produced a piece at a time
(:meth:`CustomerExport.next`): the customer, then each session's messages in batches of
:data:`BATCH`, so memory stays bounded however long the history. Blocking: each call from
the executor (``bridge.run_io``), one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence import customers, tags
from kefu.persistence import upload_records as records
from kefu.persistence.erasure import scan_batches
from kefu.persistence.history import session_view, statistics
from kefu.persistence.messages_left import FIELDS as LEFT_FIELDS
from kefu.persistence.messages_query import apply_tombstones
from kefu.persistence.redis import Store

BATCH = 500
USER_FIELDS = ("id", "name", "user_type", "created_at")


def customer_record(store: Store, kehu_id: str) -> dict[str, Any] | None:
    """The user record (no secrets) and profile of a customer; None if there is none."""
    raw = store.client.hgetall(store.keys.user(kehu_id))
    if raw.get("user_type") != "kehu":
        return None
    return {**{name: raw.get(name) for name in USER_FIELDS},
            **customers.profile(store, kehu_id)}


class CustomerExport:
    """One export in progress. Not thread-safe: one caller at a time."""

    def __init__(self, store: Store, kehu_id: str, customer: dict[str, Any]) -> None:
        self.store, self.kehu_id, self.customer = store, kehu_id, customer
        self.pieces = self._pieces()

    def next(self) -> bytes | None:
        """The next piece of the document; None once it is complete."""
        return next(self.pieces, None)

    def _pieces(self) -> Iterator[bytes]:
        r, k = self.store.client, self.store.keys
        head = {"format": "kefu.customer-export", "version": 1, "exported_at": iso(now()),
                "customer": self.customer}
        yield orjson.dumps(head)[:-1] + b',"sessions":['
        sids = r.zrange(k.user_sessions(self.kehu_id), 0, -1)
        first = True
        for sid in sids:
            meta = r.hgetall(k.session(sid))
            if not meta:
                continue
            view = {**session_view(meta), "statistics": statistics(meta),
                    "tags": tags.of_session(self.store, sid)}
            yield (b"" if first else b",") + orjson.dumps(view)[:-1] + b',"messages":['
            first = False
            yield from self._messages(sid)
            yield b"]}"
        left_ids = r.zrange(k.left_by(self.kehu_id), 0, -1)
        pipe = r.pipeline(transaction=False)
        for left_id in left_ids:
            pipe.hgetall(k.left(left_id))
        left = [{name: raw.get(name) or None for name in LEFT_FIELDS}
                for raw in pipe.execute() if raw]
        yield b'],"messages_left":' + orjson.dumps(left) + b',"uploads":['
        first = True
        for batch in self._uploads(set(sids)):
            yield (b"" if first else b",") + orjson.dumps(batch)[1:-1]
            first = False
        yield b"]}"

    def _messages(self, sid: str) -> Iterator[bytes]:
        r, k = self.store.client, self.store.keys
        low, first = "-", True
        while True:
            entries = r.xrange(k.stream(sid), low, "+", count=BATCH)
            if not entries:
                return
            msgs = apply_tombstones(r, k, [orjson.loads(f["m"]) for _, f in entries])
            yield (b"" if first else b",") + orjson.dumps(msgs)[1:-1]
            first = False
            if len(entries) < BATCH:
                return
            low = "(" + entries[-1][0]

    def _uploads(self, sids: set[str]) -> Iterator[list[dict[str, Any]]]:
        r = self.store.client
        for keys in scan_batches(self.store, self.store.keys.upload("*")):
            pipe = r.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            found = [records.view(raw) for raw in pipe.execute()
                     if raw and (raw.get("uploader") == self.kehu_id
                                 or raw.get("session_id") in sids)]
            if found:
                yield found
