"""The multi-process load generator: K worker processes drive P customer–agent pairs.

Each worker owns a contiguous slice of the pairs (``stats.split_pairs``) and runs its own
asyncio loop with Tornado WebSocket clients. The parent talks to the workers over
``multiprocessing`` pipes, one command at a time:

``agents``   connect the slice's agents (wait for ``hello``)
``guests``   connect the slice's customers, ``request_service``, wait for ``assigned``
``closed``   closed loop from a shared start time: each customer sends, waits for its ack,
             sends again, until the end time; replies ``done`` when the last ack is in
``open``     open loop at a fixed offered rate (``stats.open_loop_schedule``): send on
             schedule whatever the acks; replies ``done`` when every ack is in (or the grace
             period ran out)
``report``   the phase's counters and latency histograms (``stats.Histogram.to_dict``)
``quit``

Every message carries ``"<phase tag>|<scheduled send time>"`` (``time.monotonic()``,
one clock for all processes on Linux) as its content, so latencies are taken from the
*scheduled* send time (no coordinated omission in the open loop) and a delivery is
measured by whichever worker owns the agent that receives it, even when the server paired
it with a customer of another worker.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

import orjson
from tornado.websocket import WebSocketClientConnection, websocket_connect

from kefu.bench.server import raise_nofile
from kefu.bench.stats import Histogram, open_loop_schedule

ACK_TIMEOUT = 10.0


class _Phase:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.sent = 0
        self.acked = 0
        self.delivered = 0
        self.errors: dict[str, int] = {}
        self.ack = Histogram()
        self.deliver = Histogram()
        self.lag = Histogram()  # how late the generator sent vs its schedule
        self.last_ack = 0.0

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def report(self) -> dict[str, Any]:
        return {"tag": self.tag, "sent": self.sent, "acked": self.acked,
                "delivered": self.delivered, "errors": self.errors,
                "ack": self.ack.to_dict(), "deliver": self.deliver.to_dict(),
                "lag": self.lag.to_dict(), "last_ack": self.last_ack}


class _Peer:
    def __init__(self, ws: WebSocketClientConnection, index: int) -> None:
        self.ws = ws
        self.index = index
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.ack_waiter: asyncio.Future[None] | None = None


class _Worker:
    def __init__(self, url: str | list[str], agent_tokens: list[str], guest_tokens: list[str],
                 lo: int, hi: int) -> None:
        # several URLs (a cluster's nodes): pair i's agent on node i, its guest on the next
        self.urls = [url] if isinstance(url, str) else url
        self.agent_tokens, self.guest_tokens = agent_tokens, guest_tokens
        self.lo, self.hi = lo, hi
        self.agents: list[_Peer] = []
        self.guests: list[_Peer] = []
        self.phase: _Phase | None = None
        self.setup_errors: dict[str, int] = {}
        self.readers: list[asyncio.Task[None]] = []

    # -- connections ---------------------------------------------------------------------
    def _on_frame(self, peer: _Peer, guest: bool, raw: str | bytes) -> None:
        frame = orjson.loads(raw)
        kind = frame.get("type")
        waiter = peer.waiters.pop(kind, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(frame)
        ph = self.phase
        if ph is None:
            return
        if kind == "ack" and guest:
            tag, _, t = frame["message"]["content"].partition("|")
            if tag == ph.tag:
                now = time.monotonic()
                ph.acked += 1
                ph.last_ack = max(ph.last_ack, now)
                ph.ack.add_seconds(now - float(t))
            w = peer.ack_waiter
            if w is not None and not w.done():
                w.set_result(None)
        elif kind == "message" and not guest:
            tag, _, t = frame["message"]["content"].partition("|")
            if tag == ph.tag:
                ph.delivered += 1
                ph.deliver.add_seconds(time.monotonic() - float(t))
        elif kind == "error":
            ph.error(str(frame.get("code")))
            w = peer.ack_waiter
            if guest and w is not None and not w.done():
                w.set_result(None)

    async def _read(self, peer: _Peer, guest: bool) -> None:
        while True:
            raw = await peer.ws.read_message()
            if raw is None:
                if self.phase is not None:
                    self.phase.error("socket_closed")
                for w in peer.waiters.values():
                    if not w.done():
                        w.set_exception(RuntimeError("socket closed"))
                if peer.ack_waiter is not None and not peer.ack_waiter.done():
                    peer.ack_waiter.set_result(None)
                return
            self._on_frame(peer, guest, raw)

    async def _connect(self, token: str, index: int, guest: bool) -> _Peer:
        url = self.urls[(index + (1 if guest else 0)) % len(self.urls)]
        ws = await websocket_connect(f"{url}?token={token}", ping_interval=None)
        peer = _Peer(ws, index)
        hello = asyncio.get_running_loop().create_future()
        peer.waiters["hello"] = hello
        self.readers.append(asyncio.create_task(self._read(peer, guest)))
        await asyncio.wait_for(hello, 30)
        if guest:
            assigned = asyncio.get_running_loop().create_future()
            peer.waiters["assigned"] = assigned
            ws.write_message(orjson.dumps({"type": "request_service"}).decode())
            await asyncio.wait_for(assigned, 30)
        return peer

    async def _connect_all(self, tokens: list[str], guest: bool) -> list[_Peer]:
        sem = asyncio.Semaphore(32)

        async def one(i: int, tok: str) -> _Peer:
            async with sem:
                return await self._connect(tok, self.lo + i, guest)

        return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens))))

    # -- phases --------------------------------------------------------------------------
    @staticmethod
    def _frame(tag: str, index: int, n: int, t: float) -> str:
        return orjson.dumps({"type": "message", "client_msg_id": f"{tag}-{index}-{n}",
                             "content": f"{tag}|{t!r}"}).decode()

    async def _closed(self, tag: str, t0: float, seconds: float) -> None:
        ph = self.phase = _Phase(tag)
        t_end = t0 + seconds
        loop = asyncio.get_running_loop()

        async def guest_loop(g: _Peer) -> None:
            n = 0
            await asyncio.sleep(max(0.0, t0 - time.monotonic()))
            while time.monotonic() < t_end:
                fut: asyncio.Future[None] = loop.create_future()
                g.ack_waiter = fut
                try:
                    g.ws.write_message(self._frame(tag, g.index, n, time.monotonic()))
                except Exception:  # noqa: BLE001 - a closed socket is counted, not raised
                    ph.error("send_failed")
                    return
                ph.sent += 1
                n += 1
                try:
                    await asyncio.wait_for(fut, ACK_TIMEOUT)
                except TimeoutError:
                    ph.error("ack_timeout")

        await asyncio.gather(*(guest_loop(g) for g in self.guests))

    async def _open(self, tag: str, t0: float, rate: float, pairs: int, seconds: float,
                    grace: float) -> None:
        ph = self.phase = _Phase(tag)
        plan = list(open_loop_schedule(rate, pairs, seconds, self.lo, self.hi))
        counters = [0] * len(self.guests)
        for off, pair in plan:
            t = t0 + off
            delay = t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            ph.lag.add_seconds(time.monotonic() - t)
            g = self.guests[pair - self.lo]
            n = counters[pair - self.lo]
            counters[pair - self.lo] += 1
            try:
                g.ws.write_message(self._frame(tag, g.index, n, t))
            except Exception:  # noqa: BLE001
                ph.error("send_failed")
                continue
            ph.sent += 1
        deadline = time.monotonic() + grace
        while ph.acked + sum(ph.errors.values()) < ph.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def serve(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cmd, *args = await loop.run_in_executor(None, conn.recv)
            try:
                if cmd == "agents":
                    self.agents = await self._connect_all(self.agent_tokens, False)
                    conn.send(("ok", len(self.agents)))
                elif cmd == "guests":
                    self.guests = await self._connect_all(self.guest_tokens, True)
                    conn.send(("ok", len(self.guests)))
                elif cmd == "closed":
                    await self._closed(*args)
                    conn.send(("done", None))
                elif cmd == "open":
                    await self._open(*args)
                    conn.send(("done", None))
                elif cmd == "report":
                    ph, self.phase = self.phase, None
                    conn.send(("report", ph.report() if ph else None))
                elif cmd == "quit":
                    for p in self.agents + self.guests:
                        p.ws.close()
                    conn.send(("bye", None))
                    return
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                conn.send(("fail", f"{type(exc).__name__}: {exc}"))


def _worker_main(conn: Connection, url: str | list[str], agent_tokens: list[str],
                 guest_tokens: list[str], lo: int, hi: int) -> None:
    raise_nofile()  # thousands of sockets per worker in the connections scenario
    worker = _Worker(url, agent_tokens, guest_tokens, lo, hi)
    asyncio.run(worker.serve(conn))


class Pool:
    """The parent's handle on the K workers."""

    def __init__(self, url: str | list[str], agents: list[str], guests: list[str],
                 slices: list[tuple[int, int]]) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for lo, hi in slices:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker_main, daemon=True,
                            args=(child, url, agents[lo:hi], guests[lo:hi], lo, hi))
            p.start()
            self.conns.append(parent)
            self.procs.append(p)

    def call(self, *cmd: Any) -> list[Any]:
        for c in self.conns:
            c.send(cmd)
        out = []
        for c in self.conns:
            kind, value = c.recv()
            if kind == "fail":
                raise RuntimeError(f"load-generator worker failed on {cmd[0]}: {value}")
            out.append(value)
        return out

    def close(self) -> None:
        try:
            self.call("quit")
        except Exception:  # noqa: BLE001
            pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
