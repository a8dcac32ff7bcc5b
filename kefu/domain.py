"""Shared vocabulary: enums, the public user model, time helpers and session ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class UserType(StrEnum):
    KEFU = "kefu"
    KEHU = "kehu"
    ADMIN = "admin"


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    BUSY = "busy"
    OFFLINE = "offline"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


class SessionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    TRANSFERRED = "transferred"


class User(BaseModel):
    """A user as every endpoint shows it (never with a password)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    user_type: UserType
    status: AgentStatus = AgentStatus.OFFLINE
    max_sessions: int = 5
    permissions: list[str] = Field(default_factory=list)
    created_at: str


def now() -> float:
    """Wall-clock seconds since the epoch (one place, so tests can reason about it)."""
    return time.time()


def iso(ts: float | None) -> str | None:
    """Epoch seconds → ISO 8601 UTC with ``Z`` (seconds precision, as in the seed)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 date or datetime (``Z`` or offset; naive means UTC) → epoch seconds."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def session_id(kehu_id: str, kefu_id: str) -> str:
    """The seed's session id: ``kehu_id:kefu_id``."""
    return f"{kehu_id}:{kefu_id}"


def split_session_id(sid: str) -> tuple[str, str] | None:
    """``kehu_id:kefu_id`` → (kehu_id, kefu_id), or None when malformed.

    User ids never contain ``:`` (validated at creation), so the split is exact.
    """
    parts = sid.split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]
