"""Guards of the ``/ws`` endpoint: the handshake's Origin check and the per-kehu
message rate limit. Everything here runs on the IOLoop thread.

Origin (cross-site WebSocket hijacking): a browser always sends ``Origin``; the
handshake is refused with 403 unless it is the request's own host or in
``KEFU_ALLOWED_ORIGINS`` (comma-separated ``scheme://host[:port]``, ``*`` = any).
Clients that send no Origin (native apps, scripts) are not browsers and pass; they still
need a token.

Message rate (``KEFU_KEHU_MSG_RATE_PER_MINUTE``, counters in Redis): checks are batched
— while one pipelined round trip runs in the executor, the next checks queue and go
together in the following one — so the loop never waits on Redis and the cost per message
stays small under load. A refused message gets an ``error`` frame (``rate_limited``,
``retry_after`` seconds, ``ref`` = its ``client_msg_id``) and is neither stored nor acked.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Protocol
from urllib.parse import urlsplit

from kefu.actors.runtime import frame
from kefu.http.state import AppState
from kefu.persistence.rate_limits import Limit, RateLimits, Verdict
from kefu.persistence.redis import REDIS_ERRORS


@functools.lru_cache(maxsize=8)
def _allow_list(allowed: str) -> frozenset[str]:
    return frozenset(o.strip().rstrip("/").lower() for o in allowed.split(",") if o.strip())


def origin_allowed(origin: str, host: str, allowed: str) -> bool:
    """Is a browser on ``origin`` allowed to open a socket on ``host``?"""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:  # "null" (sandboxed frames, file://), junk
        return "*" in _allow_list(allowed)
    if parts.netloc.lower() == host.lower():
        return True
    entries = _allow_list(allowed)
    return "*" in entries or f"{parts.scheme}://{parts.netloc}".lower() in entries


class MessageGate:
    """Batched per-kehu message counting (see the module docstring)."""

    def __init__(self, state: AppState) -> None:
        s = state.settings
        self.limit = Limit("msg", s.kehu_msg_rate_per_minute, 60)
        self.limits = RateLimits(state.store)
        self.executor = state.bridge.executor
        self.waiting: list[tuple[str, asyncio.Future[Verdict]]] = []
        self.busy = False

    async def check(self, user_id: str) -> Verdict:
        """Count one message of ``user_id``; raises a Redis error when Redis is away."""
        fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self.waiting.append((user_id, fut))
        if not self.busy:
            self._flush()
        return await fut

    def _flush(self) -> None:
        batch, self.waiting = self.waiting, []
        self.busy = True
        done = asyncio.get_running_loop().run_in_executor(
            self.executor, self.limits.hit_many, self.limit, [u for u, _ in batch])
        done.add_done_callback(functools.partial(self._settle, batch))

    def _settle(self, batch: list[tuple[str, asyncio.Future[Verdict]]],
                done: asyncio.Future[list[Verdict]]) -> None:
        self.busy = False
        exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
        for i, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(done.result()[i])
        if self.waiting:
            self._flush()


class _Socket(Protocol):
    application: Any
    state: AppState

    def send_frame(self, data: bytes) -> None: ...


def _gate(socket: _Socket) -> MessageGate:
    settings = socket.application.settings
    gate = settings.get("kefu_message_gate")
    if gate is None:
        gate = settings["kefu_message_gate"] = MessageGate(socket.state)
    return gate


async def message_allowed(socket: _Socket, user_id: str, client_msg_id: str) -> bool:
    """May this kehu's chat message go on? If not, the socket gets the ``error`` frame."""
    if socket.state.settings.kehu_msg_rate_per_minute <= 0:
        return True
    try:
        verdict = await _gate(socket).check(user_id)
    except REDIS_ERRORS:
        socket.send_frame(frame("error", code="storage_unavailable",
                                message="storage unavailable, retry", ref=client_msg_id))
        return False
    if verdict.allowed:
        return True
    socket.send_frame(frame("error", code="rate_limited", message="too many messages, retry "
                            f"in {verdict.retry_after} s", ref=client_msg_id,
                            retry_after=verdict.retry_after))
    return False


__all__ = ["MessageGate", "message_allowed", "origin_allowed"]
