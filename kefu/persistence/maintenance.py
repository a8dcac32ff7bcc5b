"""Maintenance mode (SPEC §7, seed 6.3) as stored in Redis (one HASH under the prefix).

The dispatcher is its single writer (``SetMaintenance``); the HTTP layer keeps a copy in
``AppState``. Blocking calls: use them from an actor thread or through ``bridge.run_io``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kefu.domain import iso
from kefu.persistence.redis import Store

DEFAULT_MESSAGE = "系统维护中，请稍后再试"


@dataclass(frozen=True)
class Maintenance:
    """The flag, the operator's message ("" = the default), since when and by whom."""

    enabled: bool = False
    message: str = ""
    since: float | None = None
    by: str | None = None

    @property
    def text(self) -> str:
        """What a refused kehu is told (the operator's message, else the default)."""
        return self.message or DEFAULT_MESSAGE

    def as_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "message": self.message or None,
                "since": iso(self.since) if self.enabled else None, "updated_by": self.by}


def load(store: Store) -> Maintenance:
    """Read the flag (off when never set)."""
    raw = store.client.hgetall(store.keys.maintenance)
    if not raw:
        return Maintenance()
    since = raw.get("since")
    return Maintenance(enabled=raw.get("enabled") == "1", message=raw.get("message", ""),
                       since=float(since) if since else None, by=raw.get("by") or None)


def save(store: Store, m: Maintenance) -> None:
    """Write the flag (one HSET, so readers never see half of it)."""
    store.client.hset(store.keys.maintenance, mapping={
        "enabled": "1" if m.enabled else "0", "message": m.message,
        "since": "" if m.since is None else repr(m.since), "by": m.by or ""})
