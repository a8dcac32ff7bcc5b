"""``kefu simulate``: the routing policy on a synthetic day, with a virtual clock.

A trace of arrivals (Poisson, a seeded random generator) — each customer with a priority,
the time its chat needs and its patience — runs through the *real* routing code
(``kefu/actors/routing.py``: ``pick_agent``, ``queue_order`` with the priority head start,
``efficiency_score``) once per strategy, on the same trace. Agents differ: each has a
speed (its chats take that factor longer) and a satisfaction score, as the efficiency
strategy weighs them. An event loop (``heapq``) advances the clock from event to event:
an arrival is assigned at once when an agent has room and nobody waits, else queued; a
chat's end frees a seat and the head of the queue takes it; a customer still waiting
when its patience runs out abandons.

Printed per strategy: customers served and abandoned, waiting time (p50, p90, p99, max)
of the served, seat utilization, and fairness between agents (Jain's index of the chats
each handled: 1.0 is perfectly even). A day of a 50-agent team runs in seconds
(docs/routing.md, "The simulator"). Recorded traces and offer mode are not simulated yet.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from kefu.actors.routing import AgentSlot, QueueEntry, RoundRobin, pick_agent, queue_order
from kefu.domain import AgentStatus, Priority

STRATEGIES = ("least_loaded", "round_robin", "efficiency")
ARRIVE, FINISH, ABANDON = 0, 1, 2


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


@dataclass
class Outcome:
    """What one strategy did with the trace."""

    strategy: str
    served: int = 0
    abandoned: int = 0
    waits: list[float] = field(default_factory=list)
    handled: dict[str, int] = field(default_factory=dict)
    busy_seconds: float = 0.0
    capacity_seconds: float = 0.0
    peak_load: int = 0  # the most chats one agent had at once (never above its seats)
    order: list[str] = field(default_factory=list)  # customers in the order they were taken

    def percentile(self, p: float) -> float:
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def abandonment(self) -> float:
        total = self.served + self.abandoned
        return self.abandoned / total if total else 0.0

    @property
    def utilization(self) -> float:
        return self.busy_seconds / self.capacity_seconds if self.capacity_seconds else 0.0

    @property
    def fairness(self) -> float:
        """Jain's index of the chats each agent handled (1.0: all the same)."""
        counts = list(self.handled.values())
        square = sum(c * c for c in counts)
        return (sum(counts) ** 2 / (len(counts) * square)) if square else 1.0


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


def synthetic_team(seed: int, agents: int, seats: int) -> list[Agent]:
    """Agents whose speed varies (lognormal around 1) and whose satisfaction is 3–5."""
    rng = random.Random(seed + 1)
    return [Agent(f"a{i:03d}", seats, round(rng.lognormvariate(0, 0.3), 3),
                  round(rng.uniform(3.0, 5.0), 2)) for i in range(agents)]


def simulate(trace: list[Arrival], team: list[Agent], strategy: str,
             head_start: float = 300.0) -> Outcome:
    """Run ``trace`` through the routing policy with ``strategy`` → its outcome."""
    slots = {a.kefu_id: AgentSlot(kefu_id=a.kefu_id, name=a.kefu_id, max_sessions=a.seats,
                                  status=AgentStatus.ONLINE, connections=1,
                                  sat_total=a.satisfaction, sat_count=1) for a in team}
    speed = {a.kefu_id: a.speed for a in team}
    rr = RoundRobin()
    out = Outcome(strategy, handled=dict.fromkeys(slots, 0))
    events: list[tuple[float, int, int, Any]] = []
    for i, arrival in enumerate(trace):
        heapq.heappush(events, (arrival.at, ARRIVE, i, arrival))
    waiting: dict[str, tuple[QueueEntry, Arrival]] = {}
    seq = len(trace)
    now = 0.0

    def start(arrival: Arrival, slot: AgentSlot) -> None:
        nonlocal seq
        slot.active.add(arrival.kehu_id)
        out.peak_load = max(out.peak_load, len(slot.active))
        out.order.append(arrival.kehu_id)
        slot.last_assigned_at = now
        took = arrival.work * speed[slot.kefu_id]
        slot.resp_total += min(took, 120.0) / 4  # its first replies: a quarter of a chat
        slot.resp_count += 1
        out.served += 1
        out.waits.append(now - arrival.at)
        out.handled[slot.kefu_id] += 1
        out.busy_seconds += took
        seq += 1
        heapq.heappush(events, (now + took, FINISH, seq, (slot, arrival.kehu_id)))

    def fill() -> None:
        while waiting:
            slot = pick_agent(list(slots.values()), strategy, rr)
            if slot is None:
                return
            head = queue_order([e for e, _ in waiting.values()], head_start)[0]
            start(waiting.pop(head.kehu_id)[1], slot)

    while events:
        now, kind, _, item = heapq.heappop(events)
        if kind == ARRIVE:
            if not waiting and (slot := pick_agent(list(slots.values()), strategy, rr)):
                start(item, slot)
                continue
            waiting[item.kehu_id] = (QueueEntry(item.kehu_id, item.kehu_id, item.priority,
                                                waiting_since=item.at), item)
            seq += 1
            heapq.heappush(events, (now + item.patience, ABANDON, seq, item.kehu_id))
        elif kind == FINISH:
            slot, kehu_id = item
            slot.active.discard(kehu_id)
            fill()
        elif item in waiting:  # abandoned before anyone took it
            del waiting[item]
            out.abandoned += 1
    out.capacity_seconds = sum(a.seats for a in team) * max(now, trace[-1].at if trace else 0)
    return out


def table(outcomes: list[Outcome]) -> str:
    rows = ["| strategy | served | abandoned | wait p50 s | p90 s | p99 s | max s | "
            "utilization | fairness |", "|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        rows.append(f"| {o.strategy} | {o.served:,} | {o.abandoned:,} ({o.abandonment:.1%}) | "
                    f"{o.percentile(50):.0f} | {o.percentile(90):.0f} | {o.percentile(99):.0f} "
                    f"| {max(o.waits, default=0):.0f} | {o.utilization:.1%} | {o.fairness:.3f} |")
    return "\n".join(rows)


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="kefu simulate")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--seats", type=int, default=3, help="concurrent chats per agent")
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--per-hour", type=float, default=1150.0, help="arrivals per hour")
    p.add_argument("--work", type=float, default=480.0, help="mean seconds a chat takes")
    p.add_argument("--patience", type=float, default=600.0, help="mean seconds a customer "
                   "waits before it abandons")
    p.add_argument("--head-start", type=float, default=300.0,
                   help="KEFU_PRIORITY_HEAD_START_SECONDS (inf: strict priority)")
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--plot", default=None, help="also draw the waiting times' CDF (PNG; "
                   "needs matplotlib: the bench extra)")
    return p


def main(args: argparse.Namespace) -> int:
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or args.agents < 1 or args.seats < 1 or args.hours <= 0 or args.per_hour <= 0:
        print(f"kefu simulate: strategies are {', '.join(STRATEGIES)}; agents, seats, hours "
              "and per-hour must be positive", file=sys.stderr)
        return 2
    trace = synthetic_trace(args.seed, args.hours, args.per_hour, args.work, args.patience)
    team = synthetic_team(args.seed, args.agents, args.seats)
    print(f"kefu simulate: {len(trace):,} customers in {args.hours:g} h, {args.agents} agents "
          f"× {args.seats} seats, mean chat {args.work:g} s, mean patience "
          f"{args.patience:g} s, head start {args.head_start:g} s, seed {args.seed}")
    outcomes = []
    for strategy in strategies:
        started = time.perf_counter()
        outcomes.append(simulate(trace, team, strategy, args.head_start))
        print(f"  {strategy}: simulated in {time.perf_counter() - started:.1f} s", flush=True)
    print(table(outcomes))
    if args.plot:
        plot(outcomes, args.plot)
        print(f"plot: {args.plot}")
    return 0


def plot(outcomes: list[Outcome], path: str) -> None:
    import matplotlib  # noqa: PLC0415 - the bench extra, only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 4))
    for o in outcomes:
        waits = sorted(o.waits)
        n = len(waits)
        ax.plot(waits, [(i + 1) / n for i in range(n)], label=f"{o.strategy} "
                f"(abandoned {o.abandonment:.1%})")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("waiting time of served customers, s")
    ax.set_ylabel("share of customers")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
