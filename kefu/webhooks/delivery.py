"""The delivery worker: every node runs one on its IOLoop (started and stopped with the
server). Redis work goes to the bridge's executor; HTTP is Tornado's non-blocking client
with :class:`~kefu.webhooks.targets.GuardedResolver` (the SSRF rule at each connection).

Each round: take events (new ones, and those a dead node left pending), claim the due
retries, POST each event to each active hook that wants its type (concurrently, each
bounded by ``KEFU_WEBHOOK_TIMEOUT_SECONDS``), then settle in one MULTI: log every attempt,
schedule the failures again (exponential backoff with jitter, from
``KEFU_WEBHOOK_BACKOFF_SECONDS`` up to ``KEFU_WEBHOOK_BACKOFF_MAX_SECONDS``) until
``KEFU_WEBHOOK_MAX_ATTEMPTS``, and ack the events. A crash before the settle delivers
again later with the same event id (at least once).

A request: ``POST`` the JSON ``{id, type, created_at, data}`` with ``X-Kefu-Event-Id``
(the idempotency id), ``X-Kefu-Event``, ``X-Kefu-Timestamp`` (epoch seconds),
``X-Kefu-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` and
``X-Kefu-Delivery-Attempt``. Only a 2xx is a success; a 3xx is not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.iostream import StreamClosedError

from kefu.config import Settings
from kefu.domain import iso, now
from kefu.persistence import webhooks
from kefu.persistence.redis import Store
from kefu.webhooks import outbox
from kefu.webhooks.targets import GuardedResolver, RefusedTarget, check_url

log = logging.getLogger(__name__)
BATCH = 20  # events (and due retries) per round


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def backoff(base: float, cap: float, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from ``base``, capped, jittered
    down by up to a half (so retries of many events spread out)."""
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def wants(hook: dict[str, Any], event: dict[str, Any]) -> bool:
    """An active hook wants the types it subscribed to; any hook its own test event (an
    admin may try a hook before switching it on)."""
    if event["type"] == "webhook.test":
        return bool(event["data"].get("hook_id") == hook["id"])
    return bool(hook["active"]) and event["type"] in hook["events"]


class WebhookWorker:
    """Created, started and stopped on the IOLoop thread."""

    def __init__(self, settings: Settings, store: Store,
                 run_io: Callable[..., Awaitable[Any]], event: Callable[..., None]) -> None:
        """``run_io``: the server's executor (``Bridge.run_io``); ``event``: the system
        log (``Runtime.event``, thread-safe)."""
        self.settings, self.store, self.run_io, self.event = settings, store, run_io, event
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.client = AsyncHTTPClient(
            force_instance=True, max_clients=20,
            resolver=GuardedResolver(allow_private=settings.webhook_allow_private))
        self.cursor = "0-0"
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Stop between rounds or abandon the round (its events stay pending: another
        node, or this one after a restart, takes them over)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.client.close()

    async def run(self) -> None:
        s = self.settings
        ready = failing = False
        while True:
            busy = False
            try:
                if not ready:
                    await self.run_io(outbox.ensure_group, self.store)
                    ready = True
                busy = await self.round()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis down, flushed (no group), a bug: try again later
                if not failing:
                    log.exception("webhook deliveries failed (logged once until they work)")
                ready, failing = False, True
            if not busy:
                await asyncio.sleep(s.webhook_poll_seconds * (4 if failing else 1))

    async def round(self) -> bool:
        """One round → whether there was work (then the next starts at once)."""
        s, store, io = self.settings, self.store, self.run_io
        batch = await io(outbox.take, store, self.consumer,
                         int(s.webhook_claim_idle_seconds * 1000), self.cursor, BATCH)
        self.cursor = batch.cursor
        if batch.dropped:
            self.event("warning", "webhooks", "events_dropped", count=batch.dropped)
        lease = s.webhook_timeout_seconds * 2 + s.webhook_claim_idle_seconds
        due = await io(outbox.claim_due, store, now(), lease, BATCH)
        if not batch.entries and not due:
            return False
        hooks = {h["id"]: h for h in await io(webhooks.all_hooks, store, True)}
        jobs: list[tuple[dict[str, Any], dict[str, Any], int, str | None]] = [
            (event, hook, 1, None) for event in batch.entries.values()
            for hook in hooks.values() if wants(hook, event)]
        done: list[str] = []
        for member in due:
            event, hook_id, attempt = outbox.parse_member(member)
            hook = hooks.get(hook_id)
            if hook is None or not wants(hook, event):
                done.append(member)  # deleted, paused or unsubscribed since
            else:
                jobs.append((event, hook, attempt, member))
        results = await asyncio.gather(*(self.attempt(e, h, n) for e, h, n, _ in jobs))
        again: list[tuple[bytes, float]] = []
        for (event, hook, attempt, member), result in zip(jobs, results, strict=True):
            if member is not None:
                done.append(member)
            if not result["ok"] and not result["final"]:
                delay = backoff(s.webhook_backoff_seconds, s.webhook_backoff_max_seconds,
                                attempt)
                again.append((outbox.retry_member(event, hook["id"], attempt + 1),
                              now() + delay))
            elif result["final"]:
                self.event("warning", "webhooks", "gave_up", hook_id=hook["id"],
                                    event_id=event["id"], attempts=attempt)
        full = await io(outbox.settle, store, list(batch.entries), done, again, results)
        if full:
            self.event("warning", "webhooks", "retries_full", given_up=full)
        return True

    async def attempt(self, event: dict[str, Any], hook: dict[str, Any],
                      attempt: int) -> dict[str, Any]:
        """POST ``event`` to ``hook`` once → the delivery log's line (``final``: failed
        and no attempt left)."""
        s = self.settings
        body = orjson.dumps(event)
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "kefu-webhooks/1",
                   "X-Kefu-Event-Id": event["id"], "X-Kefu-Event": event["type"],
                   "X-Kefu-Timestamp": stamp,
                   "X-Kefu-Signature": signature(hook["secret"] or "", stamp, body),
                   "X-Kefu-Delivery-Attempt": str(attempt)}
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            check_url(hook["url"])
            reply = await self.client.fetch(HTTPRequest(
                hook["url"], method="POST", headers=headers, body=body,
                connect_timeout=s.webhook_timeout_seconds,
                request_timeout=s.webhook_timeout_seconds, follow_redirects=False,
                streaming_callback=lambda _chunk: None), raise_error=False)
            status = reply.code
            if 300 <= status < 400:
                error = "redirect not followed"
            elif not 200 <= status < 300:
                error = f"HTTP {status}"
        except RefusedTarget as exc:
            error = f"refused target: {exc}"
        except (OSError, HTTPClientError, StreamClosedError, ValueError) as exc:
            # connection refused or reset, timeout, TLS, a bad URL: a failed attempt
            error = f"{type(exc).__name__}: {exc}"[:300]
        ok = error is None
        return {"hook_id": hook["id"], "event_id": event["id"], "type": event["type"],
                "attempt": attempt, "at": iso(now()), "ok": ok, "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "error": error, "final": not ok and attempt >= s.webhook_max_attempts}
