"""The one place where the IOLoop waits for actors or Redis — without blocking.

Actors answer an ask through a reply callable that hops back with ``add_callback`` (the
only thread-safe IOLoop method); blocking Redis reads run in a bounded executor. Never
``await`` a pykka future on the loop (its ``__await__`` blocks: jodal/pykka#99).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tornado.ioloop import IOLoop

from kefu.actors.handles import AnyHandle
from kefu.actors.messages import ActorMessage, Rejected
from kefu.protocol import RejectReason

T = TypeVar("T")


class Bridge:
    """Created on the IOLoop thread; every method is called on the IOLoop thread."""

    def __init__(self, ask_timeout: float, io_threads: int = 16) -> None:
        self.loop = IOLoop.current()
        self.ask_timeout = ask_timeout
        self.executor = ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="kefu-io")

    async def ask(self, handle: AnyHandle, msg: ActorMessage) -> Any:
        """Ask ``handle`` with ``msg`` and await the answer without blocking the loop.

        Args:
            handle: the actor to ask.
            msg: the message (its answer comes back through the envelope's reply).

        Returns:
            The actor's ``Accepted``/``Rejected``, or ``Rejected(timeout)`` after
            ``KEFU_ASK_TIMEOUT`` seconds.
        """
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def settle(value: Any) -> None:  # the loop thread
            if not fut.done():
                fut.set_result(value)

        def reply(value: Any) -> None:  # the actor's thread
            self.loop.add_callback(settle, value)

        handle.ask(msg, reply)
        try:
            return await asyncio.wait_for(fut, self.ask_timeout)
        except TimeoutError:
            return Rejected(reason=RejectReason.TIMEOUT)

    async def run_io(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking (Redis) call in the executor. Redis errors propagate.

        The call runs in a copy of the caller's context, so what it logs carries the
        request id (kefu/log_format.py)."""
        return await self.loop.run_in_executor(self.executor, contextvars.copy_context().run,
                                               fn, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
