"""Guards of the ``/ws`` endpoint: the handshake's Origin check and the per-kehu
message rate limit. Everything here runs on the IOLoop thread.

Origin (cross-site WebSocket hijacking): a browser always sends ``Origin``; the
handshake is refused with 403 unless it is the request's own host or in
``KEFU_ALLOWED_ORIGINS`` (comma-separated ``scheme://host[:port]``, ``*`` = any).
Clients that send no Origin (native apps, scripts) are not browsers and pass; they still
need a token.

Message rate (``KEFU_KEHU_MSG_RATE_PER_MINUTE``, counters in Redis): the process leases
hits from a kehu's Redis counter — up to a tenth of the limit at once (at most
``MAX_LEASE``; one at a time for limits under 20, so small limits are exact) — and spends
them locally, so most messages pass without touching Redis, and a window never grants more
than the limit however many processes share it (a lease left unspent when the window ends
is lost: across processes the limit can only err on the strict side). Lease requests are
batched — while one script call runs in the executor, the next requests queue and go
together in the following one — so the loop never waits on Redis. A refused message gets
an ``error`` frame (``rate_limited``, ``retry_after`` seconds, ``ref`` = its
``client_msg_id``) and is neither stored nor acked.
"""

from __future__ import annotations

import asyncio
import functools
import math
from typing import Any, Protocol
from urllib.parse import urlsplit

from kefu import protocol
from kefu.domain import now
from kefu.http.state import AppState
from kefu.persistence.rate_limits import Limit, RateLimits
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

MAX_LEASE = 20  # hits a process takes from a kehu's counter at once


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
    """Per-kehu message counting with leases (see the module docstring)."""

    def __init__(self, state: AppState) -> None:
        s = state.settings
        self.limit = Limit("msg", s.kehu_msg_rate_per_minute, 60)
        self.chunk = min(MAX_LEASE, max(1, self.limit.limit // 10))
        self.limits = RateLimits(state.store)
        self.executor = state.bridge.executor
        self.window = -1
        self.leases: dict[str, int] = {}  # kehu id → hits granted and not yet spent
        self.waiting: list[tuple[str, asyncio.Future[int]]] = []
        self.busy = False

    async def check(self, user_id: str) -> int:
        """Count one message of ``user_id`` → 0 if it may go on, else seconds to wait.
        Raises a Redis error when Redis is away."""
        at = now()
        window = int(at // self.limit.window)
        if window != self.window:  # leases are for one window
            self.window, self.leases = window, {}
        left = self.leases.get(user_id, 0)
        if left > 0:
            self.leases[user_id] = left - 1
            return 0
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting.append((user_id, fut))
        if not self.busy:
            self._flush()
        granted = await fut
        if granted > 0:
            if window == self.window:
                self.leases[user_id] = self.leases.get(user_id, 0) + granted - 1
            return 0
        return max(1, math.ceil((window + 1) * self.limit.window - at))

    def _flush(self) -> None:
        batch, self.waiting = self.waiting, []
        self.busy = True
        done = asyncio.get_running_loop().run_in_executor(
            self.executor, self.limits.lease_many, self.limit, [u for u, _ in batch],
            self.chunk)
        done.add_done_callback(functools.partial(self._settle, batch))

    def _settle(self, batch: list[tuple[str, asyncio.Future[int]]],
                done: asyncio.Future[tuple[list[int], float]]) -> None:
        self.busy = False
        exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
        for i, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(done.result()[0][i])
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
        retry_after = await _gate(socket).check(user_id)
    except REDIS_ERRORS:
        socket.send_frame(protocol.error(RejectReason.STORAGE_UNAVAILABLE, client_msg_id,
                                         "storage unavailable, retry"))
        return False
    if not retry_after:
        return True
    socket.send_frame(protocol.error(RejectReason.RATE_LIMITED, client_msg_id,
                                     f"too many messages, retry in {retry_after} s",
                                     retry_after=retry_after))
    return False


__all__ = ["MessageGate", "message_allowed", "origin_allowed"]
