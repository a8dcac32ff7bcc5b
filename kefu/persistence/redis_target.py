"""Where Redis is: one URL (``KEFU_REDIS_URL``, or the embedded Redis's socket), or a
primary found through Redis Sentinel (``KEFU_REDIS_SENTINELS`` and
``KEFU_REDIS_SENTINEL_MASTER``). Every connection of the process — the store's pool, the
pub/sub subscriber, the CLI's restore — is made here, so all of them follow a failover.

With Sentinel, redis-py's :class:`~redis.sentinel.SentinelConnectionPool` asks the
sentinels for the primary on every new connection, drops idle connections to a former
primary, and turns a demoted primary's ``READONLY`` into a connection error (the caller
reconnects to the new one). docs/reliability.md, "Redis failover".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

from kefu.config import Settings, parse_sentinels

log = logging.getLogger(__name__)
SENTINEL_TIMEOUT = 0.5  # seconds per sentinel asked (connect and reply)


class BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """A Sentinel-managed pool that waits (``timeout``) for a free connection instead of
    failing at ``max_connections``, like the store's pool without Sentinel."""


@dataclass(frozen=True)
class RedisTarget:
    """A Redis to connect to: ``url``, or the primary named ``master`` that the
    ``sentinels`` know. Thread-safe (the Sentinel manager is shared and stateless)."""

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "mymaster"
    _manager: list[Sentinel] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def configured(cls, settings: Settings) -> RedisTarget | None:
        """Where the settings put Redis; None: the embedded one (started by the caller)."""
        if settings.redis_sentinels:
            return cls(sentinels=parse_sentinels(settings.redis_sentinels),
                       master=settings.redis_sentinel_master)
        return cls(url=settings.redis_url) if settings.redis_url else None

    @classmethod
    def of(cls, target: RedisTarget | str) -> RedisTarget:
        return target if isinstance(target, RedisTarget) else cls(url=target)

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    def sentinel(self) -> Sentinel:
        """The shared Sentinel manager (made on first use)."""
        if not self._manager:
            self._manager.append(Sentinel(
                list(self.sentinels), socket_timeout=SENTINEL_TIMEOUT,
                socket_connect_timeout=SENTINEL_TIMEOUT))
        return self._manager[0]

    def pool(self, *, max_connections: int, timeout: float, **kw: Any
             ) -> redis.ConnectionPool:
        """A blocking pool of connections to the (current) primary."""
        if not self.uses_sentinel:
            assert self.url is not None
            return redis.BlockingConnectionPool.from_url(
                self.url, max_connections=max_connections, timeout=timeout, **kw)
        return BlockingSentinelPool(self.master, self.sentinel(), max_connections=max_connections,
                                    timeout=timeout, **kw)

    def client(self, **kw: Any) -> redis.Redis:
        """A client of its own (one connection at a time: pub/sub, a CLI command)."""
        if not self.uses_sentinel:
            assert self.url is not None
            return redis.Redis.from_url(self.url, **kw)
        return redis.Redis(connection_pool=SentinelConnectionPool(
            self.master, self.sentinel(), **kw))

    def primary(self) -> str:
        """Where the primary is now: ``host:port`` as the sentinels say, or the URL.
        Raises ``redis.RedisError`` when no sentinel answers for it."""
        if not self.uses_sentinel:
            return str(self.url)
        host, port = self.sentinel().discover_master(self.master)
        return f"{host}:{port}"

    def describe(self) -> str:
        """For logs and the health view (no password)."""
        if self.uses_sentinel:
            names = ",".join(f"{h}:{p}" for h, p in self.sentinels)
            return f"sentinel://{names}/{self.master}"
        return _redact(str(self.url))


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


class PrimaryWatch:
    """One thread: asks the sentinels every ``interval`` seconds where the primary is and
    calls ``changed(old, new)`` (on its thread) when a failover moved it. The node uses it
    to re-read what it keeps in memory (docs/reliability.md). Without Sentinel: nothing."""

    def __init__(self, target: RedisTarget, changed: Callable[[str, str], None],
                 interval: float = 1.0) -> None:
        self.target, self.changed, self.interval = target, changed, interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kefu-primary-watch",
                                       daemon=True)
        self.current: str | None = None
        self.failovers = 0

    def start(self) -> None:
        """Called once at start-up (the IOLoop's thread)."""
        if not self.target.uses_sentinel:
            return
        try:
            self.current = self.target.primary()
        except redis.RedisError:
            self.current = None
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(2)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                now = self.target.primary()
            except redis.RedisError:
                continue  # no sentinel answers, or they agree on none: ask again
            old, self.current = self.current, now
            if old is not None and old != now:
                self.failovers += 1
                try:
                    self.changed(old, now)
                except Exception:  # a callback's bug must not stop the watch
                    log.exception("primary watch callback failed")
