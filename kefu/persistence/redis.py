"""The Redis client (thread-safe, blocking pool), its registered scripts
(``scripts.py``) and the round trip that tells "not sent" from "sent, unanswered"."""

from __future__ import annotations

import logging
import threading
from typing import Any

import hiredis
import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError
from redis.retry import Retry

from kefu import metrics
from kefu.persistence.keys import Keys
from kefu.persistence.redis_target import RedisTarget
from kefu.persistence.scripts import (
    APPEND_LUA,
    ASSIGN_LUA,
    CLOSE_LUA,
    OFFER_DROP_LUA,
    OFFER_PUT_LUA,
    QUEUE_DROP_LUA,
    QUEUE_PUT_LUA,
    RATE_LUA,
    TRANSFER_LUA,
    WAIT_APPEND_LUA,
)

log = logging.getLogger(__name__)


class Store:
    """The shared Redis client, its key builders and registered scripts. Thread-safe."""

    def __init__(self, target: RedisTarget | str, prefix: str = "kefu:",
                 ack_replicas: int = 0, ack_replicas_timeout_ms: int = 1000) -> None:
        """``target``: a URL or a :class:`RedisTarget` (Sentinel). ``ack_replicas``: how
        many replicas must hold a write before it is confirmed (:meth:`confirm`)."""
        self.target = RedisTarget.of(target)
        pool = self.target.pool(
            max_connections=64,
            timeout=2,
            socket_timeout=5,
            socket_connect_timeout=1,
            decode_responses=True,
        )
        self.client = redis.Redis(
            connection_pool=pool, retry=Retry(NoBackoff(), 0), decode_responses=True
        )
        self.keys = Keys(prefix)
        self.ack_replicas = ack_replicas
        self.ack_replicas_timeout_ms = ack_replicas_timeout_ms
        self.unconfirmed = 0  # waits that fell short of ack_replicas
        self._tally = threading.Lock()
        self.append = self.client.register_script(APPEND_LUA)
        self.wait_append = self.client.register_script(WAIT_APPEND_LUA)
        self.assign = self.client.register_script(ASSIGN_LUA)
        self.close_session = self.client.register_script(CLOSE_LUA)
        self.transfer = self.client.register_script(TRANSFER_LUA)
        self.rate = self.client.register_script(RATE_LUA)
        self.queue_put = self.client.register_script(QUEUE_PUT_LUA)
        self.offer_put = self.client.register_script(OFFER_PUT_LUA)
        self.offer_drop = self.client.register_script(OFFER_DROP_LUA)
        self.queue_drop = self.client.register_script(QUEUE_DROP_LUA)

    def execute(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one round trip on one pooled connection, packed by hiredis
        in C, and read every reply; error replies come back as values (like a pipeline
        with ``raise_on_error=False``). Thread-safe.

        Whether a failure means "not applied" is told apart (docs/protocol.md,
        ``outcome_unknown``): a Redis error raised while getting a live connection means
        nothing was sent; once the bytes may have left, a failure (a timeout, the link
        dropping mid-reply) raises :class:`OutcomeUnknown`, because Redis may have run
        the commands all the same (seen: a 10 s freeze, then every append applied)."""
        pool = self.client.connection_pool
        try:
            conn = pool.get_connection()  # raises before anything is sent: nothing applied
        except REDIS_ERRORS:
            metrics.REDIS_ERROR_COUNT.labels("write").inc()
            raise
        try:
            conn.send_packed_command([b"".join(map(hiredis.pack_command, commands))])
            results: list[Any] = []
            for _ in commands:
                try:
                    results.append(conn.read_response())
                except ResponseError as exc:
                    results.append(exc)
            return results
        except REDIS_ERRORS as exc:
            metrics.REDIS_ERROR_COUNT.labels("write").inc()
            conn.disconnect()  # unknown state: never hand it back half-read
            raise OutcomeUnknown(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)

    def call_script(self, script: Script, keys: list[Any], args: list[Any]) -> Any:
        """One script call through :meth:`execute`, loading the script when Redis has lost
        it (a restarted Redis). Thread-safe (any actor thread).

        Args:
            script: a script registered on this store.
            keys: its KEYS.
            args: its ARGV.

        Returns:
            The script's reply.

        Raises:
            OutcomeUnknown: the call was sent and its reply lost (it may have run).
            redis.RedisError: Redis could not be reached (it did not run), or the script
                failed.
        """
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        for _attempt in range(2):
            result = self.execute([command])[0]
            if isinstance(result, NoScriptError):
                self.client.script_load(script.script)
                continue
            if isinstance(result, ResponseError):
                raise result
            return result
        raise NoScriptError("script not loaded")

    def confirm_commands(self) -> list[tuple[Any, ...]]:
        """What ends a write batch when ``ack_replicas`` is set: a write (so the ``WAIT``
        covers every earlier write of any connection) and the ``WAIT``; nothing otherwise.
        Its last reply is the number of replicas that have everything written before."""
        if not self.ack_replicas:
            return []
        return [("INCR", self.keys.replication_mark),
                ("WAIT", self.ack_replicas, self.ack_replicas_timeout_ms)]

    def confirmed(self, wait_reply: Any) -> bool:
        """Whether a ``WAIT``'s reply counts ``ack_replicas`` replicas (those that did not
        are counted in :attr:`unconfirmed`). Thread-safe."""
        ok = isinstance(wait_reply, int) and wait_reply >= self.ack_replicas
        if not ok:
            with self._tally:
                self.unconfirmed += 1
        return ok

    def confirm(self) -> None:
        """Wait until ``ack_replicas`` replicas have every write made so far (any thread;
        blocks up to ``ack_replicas_timeout_ms``). Nothing to do when it is 0.

        Raises:
            OutcomeUnknown: fewer replicas confirmed in time, or the reply was lost: the
                writes are on the primary and may not survive its loss.
            redis.RedisError: Redis could not be reached.
        """
        commands = self.confirm_commands()
        if not commands:
            return
        reply = self.execute(commands)[-1]
        if not self.confirmed(reply):
            raise OutcomeUnknown(f"{reply!r} of {self.ack_replicas} replicas confirmed in "
                                 f"{self.ack_replicas_timeout_ms} ms")

    def ping(self) -> bool:
        """One round trip; raises ``redis.RedisError`` when Redis is away."""
        return bool(self.client.ping())

    def close(self) -> None:
        self.client.close()
        self.client.connection_pool.disconnect()


class OutcomeUnknown(redis.RedisError):
    """A write whose command may have reached Redis, but whose reply never came: it may
    or may not have been applied. Never "storage unavailable": the caller must say so."""


REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def confirm_quietly(store: Store, what: str) -> None:
    """:meth:`Store.confirm` for a write whose effects the node keeps whatever the
    replicas say (the dispatcher's scripts, a lease): it is on the primary, and a failover
    that loses it makes every node read Redis again and every client reconnect
    (docs/reliability.md). A shortfall is logged and counted. Any thread."""
    try:
        store.confirm()
    except REDIS_ERRORS as exc:
        log.warning("%s not confirmed by %s replica(s): %s", what, store.ack_replicas, exc)
