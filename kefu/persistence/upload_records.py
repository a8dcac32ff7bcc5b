"""An upload's metadata in Redis (issue 15, uploads): one hash per upload, written once,
after its bytes are in the blob store (so a record never names a missing blob). The
bytes themselves are in the blob store (``kefu/uploads/storage.py``), not in Redis, so a backup of the
keys does not hold them. Blocking; called from the executor."""

from __future__ import annotations

import re
import secrets
from typing import Any, Protocol

from kefu.domain import iso, now
from kefu.persistence.redis import Store

ID = re.compile(r"^up_[0-9a-f]{32}$")
# an upload named in a message (its url, or pasted into its text)
UPLOAD_URL = re.compile(r"/api/uploads/(up_[0-9a-f]{32})")
INTS = ("size", "width", "height")


def new_id() -> str:
    return f"up_{secrets.token_hex(16)}"


def save(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    record = {**record, "created_at": iso(now())}
    store.client.hset(store.keys.upload(record["id"]),
                      mapping={k: str(v) for k, v in record.items() if v is not None})
    return view(record)


def get(store: Store, upload_id: str) -> dict[str, Any] | None:
    if not ID.match(upload_id):
        return None
    raw = store.client.hgetall(store.keys.upload(upload_id))
    return view(raw) if raw else None


def view(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: raw.get(k) for k in (
        "id", "session_id", "uploader", "name", "content_type", "created_at")}
    for name in INTS:
        value = raw.get(name)
        out[name] = int(value) if value not in (None, "") else None
    out["image"] = str(raw.get("image")) in ("1", "True", "true")
    out["url"] = f"/api/uploads/{out['id']}"
    out["thumbnail_url"] = f"{out['url']}/thumbnail" if out["image"] else None
    return out


class Blobs(Protocol):
    """What erasure and retention need of the uploads' store (``kefu.uploads.storage``:
    a directory or S3): deleting a file. Blocking."""

    def delete(self, key: str) -> None: ...
