"""The customers and agents ``kefu simulate`` replays (issue 14, item 7): a synthetic day
(Poisson arrivals, exponential work and patience, agents of varied speed and rating) or
the sessions a server recorded in Redis (``--from-redis``). Pure data but for
:func:`load_recorded`, which reads Redis (the CLI's thread)."""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from kefu.config import Settings
from kefu.domain import Priority
from kefu.persistence.keys import Keys
from kefu.persistence.redis_target import RedisTarget


@dataclass(frozen=True, slots=True)
class Arrival:
    """One customer of the trace."""

    at: float
    kehu_id: str
    priority: Priority
    work: float  # seconds its chat takes an agent of speed 1
    patience: float  # seconds it waits before it gives up


@dataclass(frozen=True, slots=True)
class Agent:
    kefu_id: str
    seats: int
    speed: float  # a chat takes work × speed seconds
    satisfaction: float  # 1..5, the ratings its customers give


def synthetic_trace(seed: int, hours: float, per_hour: float, mean_work: float,
                    mean_patience: float) -> list[Arrival]:
    """Poisson arrivals (``per_hour``), exponential work and patience, 10 % high and
    20 % low priority."""
    rng = random.Random(seed)
    out, t, n = [], 0.0, 0
    end = hours * 3600
    while True:
        t += rng.expovariate(per_hour / 3600)
        if t >= end:
            return out
        r = rng.random()
        priority = Priority.HIGH if r < 0.1 else Priority.LOW if r < 0.3 else Priority.NORMAL
        out.append(Arrival(t, f"k{n:06d}", priority, rng.expovariate(1 / mean_work),
                           rng.expovariate(1 / mean_patience)))
        n += 1


def recorded_trace(client: Any, keys: Keys, mean_patience: float, seed: int,
                   limit: int = 200_000) -> tuple[list[Arrival], list[Agent]]:
    """Arrivals and agents as Redis recorded them: every session that was not a transfer
    (a transfer continues a chat) is one arrival at ``opened_at − waited_seconds`` (the
    wait its routing explanation kept) needing ``ended_at − opened_at`` seconds (still
    open: until now); agents are the kefu users with their ``max_sessions`` and rating.
    Redis keeps no patience (abandonment is not recorded), so each customer's is drawn
    as in a synthetic trace. A session id reopened later keeps its latest chat only."""
    rng = random.Random(seed)
    sids = client.zrange(keys.sessions, -limit, -1)
    pipe = client.pipeline(transaction=False)
    for sid in sids:
        pipe.hmget(keys.session(sid), "opened_at", "ended_at", "transferred_from", "routing",
                   "kehu_id")
    at_end = time.time()
    raw: list[tuple[float, float, str]] = []
    for opened, ended, came_from, routing, kehu in pipe.execute():
        if not opened or came_from:
            continue
        waited = float((orjson.loads(routing) if routing else {}).get("waited_seconds") or 0)
        start = float(opened)
        raw.append((start - waited, max((float(ended) if ended else at_end) - start, 1.0),
                    kehu or ""))
    raw.sort()
    first = raw[0][0] if raw else 0.0
    trace = [Arrival(at - first, f"{kehu}#{i}", Priority.NORMAL, work,
                     rng.expovariate(1 / mean_patience))
             for i, (at, work, kehu) in enumerate(raw)]
    figures = {k: v for k, v in client.hgetall(keys.agent_figures).items()}
    team = []
    for uid in client.zrange(keys.users, 0, -1):
        kind, seats = client.hmget(keys.user(uid), "user_type", "max_sessions")
        if kind == "kefu":
            count = float(figures.get(f"{uid}|sc", 0) or 0)
            rating = float(figures.get(f"{uid}|st", 0) or 0) / count if count else 5.0
            team.append(Agent(uid, int(seats or 5), 1.0, rating))
    return trace, team


def synthetic_team(seed: int, agents: int, seats: int) -> list[Agent]:
    """Agents whose speed varies (lognormal around 1) and whose satisfaction is 3–5."""
    rng = random.Random(seed + 1)
    return [Agent(f"a{i:03d}", seats, round(rng.lognormvariate(0, 0.3), 3),
                  round(rng.uniform(3.0, 5.0), 2)) for i in range(agents)]


def load_recorded(args: argparse.Namespace) -> tuple[list[Arrival], list[Agent]] | str:
    """The recorded trace from the configured Redis, or the running server's embedded one
    (read only) → the trace and team, or why not."""
    settings = Settings()
    target = RedisTarget.configured(settings)
    if target is None:
        sock = settings.redis_dir / "redis.sock"
        if not sock.exists():
            return ("no Redis to read: set KEFU_REDIS_URL, or start the server "
                    "(scripts/serve) so its embedded Redis answers")
        target = RedisTarget(url=f"unix://{sock.resolve()}")
    client = target.client(socket_timeout=30, decode_responses=True)
    try:
        return recorded_trace(client, Keys(settings.redis_prefix), args.patience, args.seed)
    except (redis.RedisError, OSError) as exc:
        return f"Redis error: {exc}"
    finally:
        client.close()
