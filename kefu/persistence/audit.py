"""The audit log: who did what to which target, when, under which request id.

A capped Redis stream (:attr:`Keys.audit_log`, ``MAXLEN ~``). Two writers: every admin
request that changes something (the REST hook in ``kefu/http/handlers/audit.py``), and
the message-delete script (``messages_query.py``), which writes its ``message.delete``
entry atomically with the tombstone. Blocking: call from an executor thread.
"""

from __future__ import annotations

from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence.redis import Store

FIELDS = ("by", "role", "action", "target", "path", "request_id", "ip")
SCAN_CHUNK = 1000


def entry_fields(*, by: str, role: str, action: str, target: str = "", path: str = "",
                 status: int | None = None, request_id: str = "", ip: str = "",
                 detail: dict[str, Any] | None = None) -> dict[str, str]:
    """One entry's stream fields (``ts`` is set here: epoch seconds, as the delete
    script writes it)."""
    fields = {"ts": f"{now():.3f}", "by": by, "role": role, "action": action,
              "target": target, "path": path, "request_id": request_id, "ip": ip}
    if status is not None:
        fields["status"] = str(status)
    if detail:
        fields["detail"] = orjson.dumps(detail).decode()
    return fields


def entry_out(entry_id: str, raw: dict[str, str]) -> dict[str, Any]:
    """A stream entry as the API shows it (old entries may lack fields: None)."""
    ts = raw.get("ts")
    try:
        at = iso(float(ts)) if ts else None
    except ValueError:
        at = None
    status = raw.get("status")
    detail = raw.get("detail")
    out: dict[str, Any] = {"id": entry_id, "at": at}
    out.update({f: raw.get(f) or None for f in FIELDS})
    out["status"] = int(status) if status and status.isdigit() else None
    try:
        out["detail"] = orjson.loads(detail) if detail else None
    except orjson.JSONDecodeError:
        out["detail"] = {"raw": detail}
    return out


class AuditLog:
    """Appends and pages of the audit stream. Thread-safe (the Redis client is)."""

    def __init__(self, store: Store, maxlen: int) -> None:
        self.r = store.client
        self.key = store.keys.audit_log
        self.maxlen = maxlen

    def append(self, fields: dict[str, str]) -> str:
        """Add one entry → its stream id."""
        return str(self.r.xadd(self.key, fields, maxlen=self.maxlen, approximate=True))

    def page(self, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Entries newest first: the ``page``-th ``limit`` of them, and the total."""
        skip, out = (page - 1) * limit, []
        hi = "+"
        total = int(self.r.xlen(self.key))
        while len(out) < limit and skip < total:
            chunk = self.r.xrevrange(self.key, max=hi, min="-", count=SCAN_CHUNK)
            if not chunk:
                break
            hi = "(" + chunk[-1][0]
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            out += [entry_out(i, raw) for i, raw in chunk[skip : skip + limit - len(out)]]
            skip = 0
        return out, total
