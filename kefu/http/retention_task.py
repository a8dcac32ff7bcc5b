"""The periodic retention purge (``KEFU_RETENTION_DAYS``; ``persistence/retention.py``).

Like the guest sweep (``housekeeping.py``): the loop only schedules, the Redis work runs
in the bridge's executor. Every ``KEFU_RETENTION_SWEEP_SECONDS`` (and once right after
start-up) one purge runs unless the previous one is still running. In cluster mode every
node schedules it; the purge lock in Redis lets one run at a time, and the per-session
claim script makes two at once harmless anyway. What went is a system event
(``retention_purged``).
"""

from __future__ import annotations

import asyncio
import logging

from tornado.ioloop import IOLoop, PeriodicCallback

from kefu.http.state import AppState
from kefu.persistence import retention
from kefu.persistence.redis import REDIS_ERRORS

log = logging.getLogger(__name__)


class RetentionPurger:
    """Created, started and stopped on the IOLoop thread; does nothing when
    ``KEFU_RETENTION_DAYS`` is unset."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.days = state.settings.retention_days
        self.running: asyncio.Future[retention.Purged] | None = None
        self.timer = PeriodicCallback(self.run, state.settings.retention_sweep_seconds * 1000)

    def start(self) -> None:
        if self.days is None:
            return
        self.timer.start()
        IOLoop.current().add_callback(self.run)

    def stop(self) -> None:
        self.timer.stop()

    def run(self) -> None:
        """One purge in the executor, unless one is still running (loop thread)."""
        if self.days is None or (self.running is not None and not self.running.done()):
            return
        uploads = self.state.uploads
        self.running = asyncio.get_running_loop().run_in_executor(
            self.state.bridge.executor, retention.purge, self.state.store,
            uploads.blobs if uploads else None, self.days)
        self.running.add_done_callback(self._done)

    def _done(self, fut: asyncio.Future[retention.Purged]) -> None:
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None:
            if not isinstance(exc, REDIS_ERRORS):
                log.error("retention purge failed", exc_info=exc)
            return  # Redis away: the next round tries again
        if fut.cancelled():
            return
        out = fut.result()
        if out.sessions or out.messages_left or out.uploads:
            self.state.bridge.executor.submit(
                self.state.rt.event, "info", "server", "retention_purged",
                sessions=out.sessions, messages=out.messages, uploads=out.uploads,
                messages_left=out.messages_left)
