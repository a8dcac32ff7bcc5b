"""Queries, bodies and replies of the admin endpoints (seed 6.1–6.3, 7.1–7.3): the same
pydantic models validate the requests and document them in the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.http.models import Body

Level = Literal["debug", "info", "warning", "error"]


# --- 6.1 logs -------------------------------------------------------------------------


class LogsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    level: Level | None = Field(default=None, description="minimum level (at least this)")
    since: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="ISO 8601 datetime: only entries at or after it")
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class LogEntry(BaseModel):
    id: str
    level: str
    actor: str
    event: str
    fields: dict[str, Any]
    timestamp: str


class LogsOut(BaseModel):
    logs: list[LogEntry]
    total: int = Field(description="entries in this reply")
    has_more: bool = Field(description="older matching entries exist beyond ``limit``")


# --- 6.2 backups ----------------------------------------------------------------------


class BackupOut(BaseModel):
    name: str
    size_bytes: int
    key_count: int | None
    created_at: str | None
    consistent: bool | None = Field(description="taken inside a CLIENT PAUSE WRITE window")
    prefix: str | None
    path: str


class BackupListOut(BaseModel):
    backups: list[BackupOut]
    total: int


# --- 6.3 maintenance ------------------------------------------------------------------


class MaintenanceBody(Body):
    enabled: bool
    message: Annotated[str, Field(max_length=500)] | None = None


class MaintenanceOut(BaseModel):
    enabled: bool
    message: str | None
    since: str | None
    updated_by: str | None


# --- 7.x redis ------------------------------------------------------------------------


class KeyspaceOut(BaseModel):
    db: int
    keys: int
    expires: int
    avg_ttl: int


class RedisStatusOut(BaseModel):
    connected: bool
    redis_version: str | None
    mode: str | None
    role: str | None
    uptime_in_seconds: int | None
    connected_clients: int | None
    used_memory: int | None
    used_memory_human: str | None
    used_memory_peak_human: str | None
    maxmemory_policy: str | None
    aof_enabled: bool
    rdb_last_save_time: int | None
    instantaneous_ops_per_sec: int | None
    total_commands_processed: int | None
    keyspace_hits: int | None
    keyspace_misses: int | None
    keyspace: KeyspaceOut
    prefix: str
    prefix_keys: int
    latency_ms: float


class FlushBody(Body):
    confirm: Literal["FLUSH"] = Field(description='must be exactly "FLUSH"')


class FlushOut(BaseModel):
    deleted: int
    kept: int = Field(description="admin accounts' keys, the maintenance flag and the "
                                  "audit log, kept")
    prefix: str


class KeysQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    pattern: Annotated[str, Field(max_length=200)] = Field(
        default="*", description="glob inside the prefix (the server prepends it)")
    cursor: Annotated[str, Field(pattern=r"^[0-9]{1,20}$")] = "0"
    count: Annotated[int, Field(ge=1, le=1000)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="at most this many keys (default 100; alias: count)")


class KeyItem(BaseModel):
    key: str
    type: str
    ttl: int = Field(description="seconds; -1 without expiry")


class KeysOut(BaseModel):
    keys: list[KeyItem]
    cursor: str = Field(description='the next cursor; "0" when the walk is done')
    total_returned: int
    pattern: str
    prefix: str
