"""A small asyncio WebSocket client for the scenarios that are not a steady relay (burst,
recovery set-up, history set-up): connect with a token, wait for ``hello``, wait for a
frame type, count every frame type, and let a scenario see each frame as it arrives
(with its arrival time on the ``time.monotonic()`` clock).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from tornado.websocket import WebSocketClientConnection, websocket_connect

OnFrame = Callable[["Client", dict[str, Any], float], None]


class Client:
    """One connected user. Use it on one asyncio loop only."""

    def __init__(self, ws: WebSocketClientConnection, name: str,
                 on_frame: OnFrame | None) -> None:
        self.ws = ws
        self.name = name
        self.on_frame = on_frame
        self.counts: Counter[str] = Counter()
        self.waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.hello: dict[str, Any] | None = None
        self.closed = False
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, token: str, name: str = "",
                      on_frame: OnFrame | None = None, timeout: float = 30.0) -> Client:
        """Open ``url?token=…`` and wait for ``hello``."""
        ws = await websocket_connect(f"{url}?token={token}", ping_interval=None,
                                     connect_timeout=timeout)
        client = cls(ws, name, on_frame)
        hello = client.future("hello")
        client.reader = asyncio.get_running_loop().create_task(client._read())
        client.hello = await asyncio.wait_for(hello, timeout)
        return client

    def future(self, kind: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next frame of type ``kind`` (register it before sending)."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(kind, []).append(fut)
        return fut

    async def expect(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.future(kind), timeout)

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.write_message(orjson.dumps(frame).decode())

    async def _read(self) -> None:
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                self.closed = True
                for futs in self.waiters.values():
                    for fut in futs:
                        if not fut.done():
                            fut.set_exception(ConnectionError(f"{self.name}: socket closed"))
                return
            now = time.monotonic()
            frame = orjson.loads(raw)
            kind = str(frame.get("type"))
            self.counts[kind] += 1
            if self.on_frame is not None:
                self.on_frame(self, frame, now)
            futs = self.waiters.get(kind)
            while futs:
                fut = futs.pop(0)
                if not fut.done():
                    fut.set_result(frame)
                    break

    def close(self) -> None:
        self.ws.close()


async def bounded(jobs: Sequence[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    """Run the coroutine factories ``jobs`` with at most ``concurrency`` at once, in order."""
    sem = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with sem:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))


async def connect_all(url: str, tokens: Sequence[str], names: Sequence[str],
                      on_frame: OnFrame | None = None, concurrency: int = 64) -> list[Client]:
    """Connect every token (``concurrency`` handshakes at a time) → clients, in order."""
    jobs = [lambda t=t, n=n: Client.connect(url, t, n, on_frame)
            for t, n in zip(tokens, names, strict=True)]
    return await bounded(jobs, concurrency)
