"""The drills' crowd: agents and customers connected over real WebSockets, every customer
assigned, and the wait until everything sent is acked and delivered (``scripts/chaos`` and
the Redis outage drill share them)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kefu.drills.client import DrillClient
from kefu.drills.ledger import missing, stored_messages
from kefu.persistence.keys import Keys


@dataclass
class Crowd:
    """Connected clients: agents by id, customers, and the (session, kehu, kefu) pairs."""

    agents: dict[str, DrillClient]
    customers: list[DrillClient]
    pairs: list[tuple[str, DrillClient, DrillClient]]
    tasks: list[asyncio.Future[None]]

    @property
    def clients(self) -> list[DrillClient]:
        return [*self.agents.values(), *self.customers]

    async def close(self) -> None:
        for c in self.clients:
            await c.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def connect_crowd(ws_url: str | list[str], kefu: list[tuple[str, str]], kehu: list[tuple[str, str]],
                        rng: random.Random) -> Crowd:
    """Connect the agents, then the customers; each customer asks for service and is
    assigned (there must be room for all)."""
    agents = {kid: DrillClient(ws_url, tok, kid, "kefu", random.Random(rng.random()))
              for kid, tok in kefu}
    customers = [DrillClient(ws_url, tok, uid, "kehu", random.Random(rng.random()))
                 for uid, tok in kehu]
    crowd = Crowd(agents, customers, [], [])
    crowd.tasks = [asyncio.ensure_future(c.run()) for c in crowd.clients]
    await asyncio.wait_for(asyncio.gather(*(a.connected.wait() for a in agents.values())), 30)
    for c in customers:
        await asyncio.wait_for(c.connected.wait(), 30)
        c.frame(type="request_service")
    await asyncio.wait_for(asyncio.gather(*(c.assigned.wait() for c in customers)), 30)
    for c in customers:
        (sid,) = c.sessions
        crowd.pairs.append((sid, c, agents[sid.split(":")[1]]))
    return crowd


async def settle(open_redis: Callable[[], Any], clients: list[DrillClient], sids: list[str],
                 timeout: float) -> None:
    """Wait (bounded) until every message is acked and delivered to both participants
    (the last ``seq`` of each session read from Redis once everything is acked)."""
    deadline = time.monotonic() + timeout
    loop = asyncio.get_running_loop()
    for c in clients:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            await asyncio.wait_for(c.idle.wait(), left)
        except TimeoutError:
            return
    r = open_redis()
    try:
        def last_seqs() -> dict[str, int]:
            return {sid: len(stored_messages(r, Keys(), sid)[0]) for sid in sids}

        last = await loop.run_in_executor(None, last_seqs)
        while time.monotonic() < deadline:
            if not any(missing(c, last) for c in clients):
                return
            await asyncio.sleep(0.05)  # deliveries in flight to the clients
    finally:
        r.close()
