"""Periodic jobs the server runs on its IOLoop: today, removing idle guests.

The loop only schedules; the Redis work runs in the bridge's executor, so the loop never
waits on it. Every ``KEFU_GUEST_SWEEP_SECONDS`` (and once right after start-up, which
also indexes guests created by older versions) :func:`kefu.persistence.guests.sweep`
removes the guests idle longer than ``KEFU_GUEST_TTL_DAYS``; how many went is a system
event. Users connected to this process are passed along so they are kept.
"""

from __future__ import annotations

import asyncio
import logging

from tornado.ioloop import IOLoop, PeriodicCallback

from kefu.domain import now
from kefu.http.state import AppState
from kefu.persistence import guests
from kefu.persistence.redis import REDIS_ERRORS

log = logging.getLogger(__name__)
DAY = 86_400.0


class GuestSweeper:
    """Created, started and stopped on the IOLoop thread."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.running: asyncio.Future[int] | None = None
        self.indexed = False
        self.timer = PeriodicCallback(self.run, state.settings.guest_sweep_seconds * 1000)

    def start(self) -> None:
        self.timer.start()
        IOLoop.current().add_callback(self.run)

    def stop(self) -> None:
        self.timer.stop()

    def run(self) -> None:
        """One sweep in the executor, unless one is still running (loop thread)."""
        if self.running is not None and not self.running.done():
            return
        s, store = self.state.settings, self.state.store
        connected = self.state.online.connected()
        index_first = not self.indexed

        def work() -> int:  # executor thread
            if index_first:
                guests.index_existing(store)
            return guests.sweep(store, s.guest_ttl_days * DAY, now(), connected)

        self.running = asyncio.get_running_loop().run_in_executor(
            self.state.bridge.executor, work)
        self.running.add_done_callback(self._done)

    def _done(self, fut: asyncio.Future[int]) -> None:
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None:
            if not isinstance(exc, REDIS_ERRORS):
                log.error("guest sweep failed", exc_info=exc)
            return  # Redis away: the next round tries again
        self.indexed = True
        removed = fut.result() if not fut.cancelled() else 0
        if removed:  # the event's Redis write stays off the loop too
            self.state.bridge.executor.submit(self.state.rt.event, "info", "server",
                                              "guests_expired", removed=removed)
