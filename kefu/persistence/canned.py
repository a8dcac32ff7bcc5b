"""Canned responses (issue 15, item 2): one hash per response and an index set. A response
belongs to everyone (no owner, no team), to a team, or to one agent (personal).
Blocking; called from the executor (``bridge.run_io``)."""

from __future__ import annotations

import uuid
from typing import Any

from kefu.domain import iso, now
from kefu.persistence.redis import Store

FIELDS = ("id", "shortcut", "title", "content", "owner", "team", "created_at", "updated_at",
          "created_by")


def _view(raw: dict[str, str]) -> dict[str, Any]:
    return {name: (raw.get(name) or None) for name in FIELDS}


def create(store: Store, fields: dict[str, Any], by: str) -> dict[str, Any]:
    k = store.keys
    at = iso(now())
    canned_id = f"cr_{uuid.uuid4().hex[:16]}"
    record = {"id": canned_id, "created_at": at, "updated_at": at, "created_by": by,
              **{name: str(value) for name, value in fields.items() if value is not None}}
    pipe = store.client.pipeline(transaction=True)
    pipe.hset(k.canned(canned_id), mapping=record)
    pipe.sadd(k.canned_all, canned_id)
    pipe.execute()
    return _view(record)


def get(store: Store, canned_id: str) -> dict[str, Any] | None:
    raw = store.client.hgetall(store.keys.canned(canned_id))
    return _view(raw) if raw else None


def all_responses(store: Store) -> list[dict[str, Any]]:
    k = store.keys
    ids = sorted(store.client.smembers(k.canned_all))
    pipe = store.client.pipeline(transaction=False)
    for canned_id in ids:
        pipe.hgetall(k.canned(canned_id))
    found = [_view(raw) for raw in pipe.execute() if raw]
    return sorted(found, key=lambda c: (c["shortcut"] or "", c["id"]))


def update(store: Store, canned_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    k = store.keys
    if not store.client.exists(k.canned(canned_id)):
        return None
    clear = [name for name, value in fields.items() if value is None]
    pipe = store.client.pipeline(transaction=True)
    pipe.hset(k.canned(canned_id), mapping={
        **{name: str(value) for name, value in fields.items() if value is not None},
        "updated_at": iso(now())})
    if clear:
        pipe.hdel(k.canned(canned_id), *clear)
    pipe.execute()
    return get(store, canned_id)


def delete(store: Store, canned_id: str) -> bool:
    k = store.keys
    pipe = store.client.pipeline(transaction=True)
    pipe.srem(k.canned_all, canned_id)
    pipe.delete(k.canned(canned_id))
    return bool(pipe.execute()[0])
