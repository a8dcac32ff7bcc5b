"""Reading the structured system log (seed 6.1): the capped ``log`` STREAM that
``Runtime.event`` appends to (fields ``level``, ``actor``, ``event``, ``ts``, ``fields``).

Newest first with ``XREVRANGE``; ``since`` becomes the lower bound of the id range (entry
ids are milliseconds), so old entries are never read. Blocking: use ``bridge.run_io``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
BATCH = 500


def iso_ms(ts: float) -> str:
    """Epoch seconds → ISO 8601 UTC with milliseconds and ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _entry(entry_id: str, f: dict[str, str]) -> dict[str, Any]:
    try:
        fields = orjson.loads(f.get("fields") or "{}")
    except orjson.JSONDecodeError:
        fields = {"raw": f.get("fields")}
    try:
        ts = float(f["ts"])
    except (KeyError, ValueError):
        ts = int(entry_id.split("-")[0]) / 1000
    return {"id": entry_id, "level": f.get("level", "info"), "actor": f.get("actor", ""),
            "event": f.get("event", ""), "fields": fields if isinstance(fields, dict)
            else {"value": fields}, "timestamp": iso_ms(ts)}


def read(client: redis.Redis, key: str, *, level: str | None = None,
         since: float | None = None, limit: int = 100,
         max_scan: int = 200_000) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` entries, newest first, at ``level`` or above, not older than
    ``since`` (epoch seconds). Returns ``(entries, has_more)``."""
    floor = LEVELS[level] if level else 0
    low = f"{max(0, int(since * 1000))}-0" if since is not None else "-"
    high = "+"
    out: list[dict[str, Any]] = []
    scanned = 0
    while scanned < max_scan:
        batch = client.xrevrange(key, max=high, min=low, count=BATCH)
        for entry_id, f in batch:
            if LEVELS.get(f.get("level", "info"), 20) >= floor:
                if len(out) == limit:
                    return out, True
                out.append(_entry(entry_id, f))
        scanned += len(batch)
        if len(batch) < BATCH:
            break
        high = "(" + batch[-1][0]  # exclusive: continue below the last one read
    return out, False


def append(client: redis.Redis, key: str, level: str, actor: str, event: str,
           **fields: Any) -> None:
    """Append one entry in ``Runtime.event``'s format (for tools that run without it)."""
    client.xadd(key, {"level": level, "actor": actor, "event": event, "ts": time.time(),
                      "fields": orjson.dumps(fields, default=str).decode()},
                maxlen=100_000, approximate=True)
