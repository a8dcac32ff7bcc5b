"""Settings: every knob is a ``KEFU_*`` environment variable (also a ``kefu serve`` flag)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Strategy = Literal["least_loaded", "round_robin", "efficiency"]


def parse_sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """``"host:port,host:port"`` → ((host, port), ...); ValueError naming the bad part."""
    out: list[tuple[str, int]] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"KEFU_REDIS_SENTINELS: {part!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    if not out:
        raise ValueError("KEFU_REDIS_SENTINELS names no sentinel")
    return tuple(out)


class Settings(BaseSettings):
    """Server configuration, read from the environment (prefix ``KEFU_``)."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    redis_url: str | None = None
    # Redis under Sentinel (docs/reliability.md, "Redis failover"), in place of redis_url:
    # "host:port,host:port,..." and the name the sentinels monitor the primary by
    redis_sentinels: str = ""
    redis_sentinel_master: str = "mymaster"
    # an ack (and the peer's copy, and the dispatcher's frames) leaves only once this many
    # replicas have the write (WAIT); 0: once the primary has it
    ack_replicas: int = Field(default=0, ge=0, le=16)
    ack_replicas_timeout_ms: int = Field(default=1000, ge=10, le=60_000)
    # at start-up, wait this long for Redis to answer before exiting 1
    redis_startup_wait_seconds: float = Field(default=10.0, ge=0)
    redis_prefix: str = "kefu:"
    admin_password: str | None = None
    assign_strategy: Strategy = "least_loaded"
    # priority as a head start: a high customer counts as arrived this much earlier, a
    # low one this much later (docs/routing.md, "Aging"); "inf": strict priority
    priority_head_start_seconds: float = Field(default=300.0, ge=0)
    # offer mode (teams with assignment "offer"): seconds an agent has to accept, and the
    # expiries in a row after which it is set away (0: never)
    offer_seconds: float = Field(default=20.0, gt=0, le=600)
    offer_misses_away: int = Field(default=3, ge=0)
    agent_grace_seconds: float = 60.0
    # a waiting customer whose page has been gone this long leaves the queue (webhook
    # queue.abandoned, reason page_gone); it is queued again, at the back, if it returns
    # (0: it keeps its place for ever)
    queue_abandon_seconds: float = Field(default=600.0, ge=0)
    session_idle_seconds: float = 1800.0
    restart_intensity: int = 5
    restart_period: float = 60.0
    token_ttl_seconds: int = 7 * 24 * 3600
    guest_rate_per_minute: int = 30
    # security (docs/security.md): rate limits (0 = off), WS origins, password cost
    kehu_msg_rate_per_minute: int = 60  # chat messages per kehu (WS error rate_limited)
    login_fail_limit: int = 10  # failed logins per user id per window → 429
    login_fail_window_seconds: int = 300
    allowed_origins: str = ""  # WS Origin allow-list, comma-separated ("*" = any)
    scrypt_n: int = Field(default=2**17, ge=2, le=2**20)  # OWASP; tests use a cheaper N
    audit_maxlen: int = 100_000
    max_frame_bytes: int = 64 * 1024
    max_text_chars: int = 4000
    max_body_bytes: int = 1024 * 1024
    # uploads (issue 15; docs/security.md, "Uploads"): size, pixels, rate, in flight
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    upload_max_pixels: int = Field(default=40_000_000, ge=10_000)  # decoded, per image
    upload_rate_per_minute: int = Field(default=20, ge=0)  # per user (0 = off)
    upload_concurrency: int = Field(default=8, ge=1, le=256)  # bodies held at once
    upload_store: Literal["dir", "s3"] = "dir"  # dir: KEFU_DATA_DIR/uploads/
    s3_endpoint: str | None = None  # e.g. http://127.0.0.1:8333 (None: AWS)
    s3_bucket: str = "kefu-uploads"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    default_max_sessions: int = Field(default=5, ge=1, le=1000)
    dedup_ttl_seconds: int = 7 * 24 * 3600
    ask_timeout: float = 5.0
    fault_injection: bool = False
    # the embedded Redis's AOF fsync policy: "everysec" may lose up to ~1 s of acked
    # messages on power loss (not on a crash of the process); "always" closes that window
    redis_appendfsync: Literal["everysec", "always"] = "everysec"
    # performance levers (docs/benchmarks.md): the GIL switch interval in seconds (None:
    # Python's 5 ms) and the process-wide futex hash (Linux >= 6.16)
    switch_interval: float | None = Field(default=None, gt=0, le=0.1)
    futex_global_hash: bool = True
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0  # Tornado caps it at the interval
    tick_seconds: float = 1.0
    # each live session gets a Tick every N ticks (idle end, linger), 1/N of them per tick
    session_tick_every: int = Field(default=10, ge=1)
    ended_actor_linger_seconds: float = 60.0
    # hostile clients (docs/security.md, "Limits"): everything a client can make the
    # server hold is bounded
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)  # also idle keep-alive
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)  # 431 above
    max_connections: int = Field(default=20_000, ge=16)  # TCP, capped by the fd limit
    ws_max_per_user: int = Field(default=10, ge=1)
    ws_max_per_address: int = Field(default=500, ge=1)
    # frames per second per connection and type ("type:rate,..."; burst = 3 s worth)
    ws_frame_rates: str = ("message:10,read:10,typing:4,resume:2,request_service:1,"
                           "switch:5,rate:1,ping:1,invalid:5")
    ws_flood_strikes: int = Field(default=50, ge=1)  # refused frames (1 back per s) → 1008
    ws_max_tracked_sessions: int = Field(default=1000, ge=1)  # seq trackers per connection
    typing_interval_seconds: float = Field(default=1.0, ge=0)  # per sender and session
    trusted_proxies: str = ""  # IPs / CIDRs whose X-Forwarded-For is believed
    guest_ttl_days: float = Field(default=30.0, gt=0)
    guest_sweep_seconds: float = Field(default=3600.0, gt=0)
    guest_global_rate_per_minute: int = 600  # guests created per minute, all addresses
    redis_restart_tries: int = Field(default=5, ge=0)  # the embedded Redis, after it dies
    # cluster mode (docs/cluster.md): this process is one of N nodes on KEFU_REDIS_URL
    cluster: bool = False
    node_id: str | None = None  # default: host:port:start-ms:random
    shards: int = Field(default=64, ge=1, le=4096)  # fixed for the life of a deployment
    lease_ttl_ms: int = Field(default=10_000, ge=500)
    drain_seconds: float = Field(default=5.0, ge=0)  # SIGTERM: hand shards over for so long
    # metrics (issue 16)
    # GET /metrics (docs/operations.md, "Metrics"): open unless this is set; then only
    # "Authorization: Bearer <token>" reads it
    metrics_token: str | None = Field(default=None, min_length=16)
    # webhooks (issue 16)
    webhook_allow_private: bool = False  # targets on loopback/private nets (SSRF guard off)
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)  # per event and hook
    webhook_backoff_seconds: float = Field(default=10.0, gt=0)  # first retry; doubles, jitter
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)  # connect + request
    webhook_poll_seconds: float = Field(default=0.5, gt=0)  # the worker, when idle
    webhook_claim_idle_seconds: float = Field(default=60.0, gt=0)  # take over a dead node's
    # permissions (issue 16)
    # data rights and operator comfort (issue 16)
    # retention (docs/data-rights.md): unset = keep forever; else sessions ended, messages
    # left and orphan uploads older than this many days are purged every sweep
    retention_days: float | None = Field(default=None, gt=0)
    retention_sweep_seconds: float = Field(default=3600.0, gt=0)
    log_format: Literal["text", "json"] = "text"  # json: one object a line, request ids

    @model_validator(mode="after")
    def _cluster_needs_shared_redis(self) -> Settings:
        if self.redis_url and self.redis_sentinels:
            raise ValueError("KEFU_REDIS_URL and KEFU_REDIS_SENTINELS: set one of them, not both")
        if self.redis_sentinels:
            parse_sentinels(self.redis_sentinels)
            if not self.redis_sentinel_master:
                raise ValueError("KEFU_REDIS_SENTINEL_MASTER must name the monitored primary")
        if self.cluster and not self.shared_redis:
            raise ValueError("KEFU_CLUSTER=1 needs KEFU_REDIS_URL or KEFU_REDIS_SENTINELS: "
                             "the nodes share one Redis")
        if self.ack_replicas and not self.shared_redis:
            raise ValueError("KEFU_ACK_REPLICAS needs a Redis with replicas (KEFU_REDIS_URL "
                             "or KEFU_REDIS_SENTINELS); the embedded Redis has none")
        if self.node_id is not None and (not self.node_id or "|" in self.node_id):
            raise ValueError("KEFU_NODE_ID must be non-empty and must not contain '|'")
        return self

    @property
    def shared_redis(self) -> bool:
        """Redis is outside this process (a URL or Sentinel), not the embedded one."""
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "admin-credentials"
