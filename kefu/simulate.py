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

Offer mode (``offer``): least-loaded picks, but each customer is offered — the agent's
seat held (``AgentSlot.reserved``) — and the agent accepts after a random delay or lets it
expire (``OfferModel``); an agent that missed a customer is not offered it again while
another has room, and misses in a row set an agent away for a while. ``--from-redis``
replays the sessions a server recorded instead of a synthetic day
(``simulate_traces.recorded_trace``).

Printed per strategy: customers served and abandoned, waiting time (p50, p90, p99, max)
of the served, seat utilization, and fairness between agents (Jain's index of the chats
each handled: 1.0 is perfectly even). A day of a 50-agent team runs in seconds
(docs/routing.md, "The simulator").
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kefu import progress
from kefu.actors.routing import AgentSlot, QueueEntry, RoundRobin, pick_agent, queue_order
from kefu.domain import AgentStatus
from kefu.simulate_traces import (
    Agent,
    Arrival,
    load_recorded,
    synthetic_team,
    synthetic_trace,
)

STRATEGIES = ("least_loaded", "round_robin", "efficiency", "offer")
ARRIVE, FINISH, ABANDON, ANSWER, BACK = 0, 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class OfferModel:
    """How agents answer offers in offer mode: they accept after ``delay`` seconds on
    average (exponential), or — with probability ``miss`` — let the offer expire after
    ``seconds``; ``misses_away`` expiries in a row set an agent away for
    ``away_seconds`` (KEFU_OFFER_SECONDS, KEFU_OFFER_MISSES_AWAY)."""

    delay: float = 6.0
    miss: float = 0.1
    seconds: float = 20.0
    misses_away: int = 3
    away_seconds: float = 300.0


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
    offers: int = 0  # offer mode: offers made, expired, agents set away
    expired: int = 0
    set_away: int = 0

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


def simulate(trace: list[Arrival], team: list[Agent], strategy: str,
             head_start: float = 300.0, offers: OfferModel | None = None,
             seed: int = 1, on_arrival: Callable[[int], object] | None = None) -> Outcome:
    """Run ``trace`` through the routing policy with ``strategy`` → its outcome.
    ``on_arrival(1)`` is told as each customer arrives (a progress bar).
    ``offer``: least-loaded picks, but each customer is offered (its agent's seat held,
    ``AgentSlot.reserved``) and the agent answers as ``offers`` models it; an agent that
    missed a customer's offer is not offered it again while another agent has room."""
    offer_mode = strategy == "offer"
    model = offers or OfferModel()
    pick_strategy = "least_loaded" if offer_mode else strategy
    answers = random.Random(seed + 2)
    passed: dict[str, set[str]] = {}
    misses: dict[str, int] = {}
    out_now: set[str] = set()  # customers with an offer out
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

    def offer(entry: QueueEntry) -> bool:
        """Offer ``entry`` to an agent with room (not one that passed on it, unless
        nobody else has room) → whether an offer went out."""
        nonlocal seq
        skip = passed.get(entry.kehu_id, set())
        slot = (pick_agent([s for s in slots.values() if s.kefu_id not in skip],
                           pick_strategy, rr) if skip else None) \
            or pick_agent(list(slots.values()), pick_strategy, rr)
        if slot is None:
            return False
        slot.reserved.add(entry.kehu_id)
        out_now.add(entry.kehu_id)
        out.offers += 1
        accepted = answers.random() >= model.miss
        answer_at = now + (min(answers.expovariate(1 / model.delay), model.seconds)
                           if accepted else model.seconds)
        seq += 1
        heapq.heappush(events, (answer_at, ANSWER, seq, (slot, entry.kehu_id, accepted)))
        return True

    def fill() -> None:
        if offer_mode:
            for entry in queue_order([e for e, _ in waiting.values()], head_start):
                if entry.kehu_id not in out_now and not offer(entry):
                    return
            return
        while waiting:
            slot = pick_agent(list(slots.values()), strategy, rr)
            if slot is None:
                return
            head = queue_order([e for e, _ in waiting.values()], head_start)[0]
            start(waiting.pop(head.kehu_id)[1], slot)

    def answered(slot: AgentSlot, kehu_id: str, accepted: bool) -> None:
        nonlocal seq
        slot.reserved.discard(kehu_id)
        out_now.discard(kehu_id)
        if kehu_id not in waiting:  # it abandoned while the agent decided
            return
        if accepted:
            misses[slot.kefu_id] = 0
            start(waiting.pop(kehu_id)[1], slot)
            return
        out.expired += 1
        passed.setdefault(kehu_id, set()).add(slot.kefu_id)
        misses[slot.kefu_id] = misses.get(slot.kefu_id, 0) + 1
        if model.misses_away and misses[slot.kefu_id] >= model.misses_away:
            slot.status = AgentStatus.AWAY  # what the dispatcher does; it comes back later
            misses[slot.kefu_id] = 0
            out.set_away += 1
            seq += 1
            heapq.heappush(events, (now + model.away_seconds, BACK, seq, slot))

    while events:
        now, kind, _, item = heapq.heappop(events)
        if kind == ANSWER:
            answered(*item)
            fill()
            continue
        if kind == BACK:
            item.status = AgentStatus.ONLINE
            fill()
            continue
        if kind == ARRIVE:
            if on_arrival is not None:
                on_arrival(1)
            if not offer_mode and not waiting and (
                    slot := pick_agent(list(slots.values()), strategy, rr)):
                start(item, slot)
                continue
            waiting[item.kehu_id] = (QueueEntry(item.kehu_id, item.kehu_id, item.priority,
                                                waiting_since=item.at), item)
            seq += 1
            heapq.heappush(events, (now + item.patience, ABANDON, seq, item.kehu_id))
            if offer_mode:
                fill()
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
    p.add_argument("--from-redis", action="store_true",
                   help="replay the sessions this server recorded (KEFU_REDIS_URL, or the "
                   "running server's embedded Redis) instead of a synthetic day")
    p.add_argument("--offer-delay", type=float, default=6.0,
                   help="offer mode: mean seconds an agent takes to accept")
    p.add_argument("--offer-miss", type=float, default=0.1,
                   help="offer mode: share of offers left to expire")
    p.add_argument("--offer-seconds", type=float, default=20.0, help="KEFU_OFFER_SECONDS")
    p.add_argument("--plot", default=None, help="also draw the waiting times' CDF (PNG; "
                   "needs matplotlib: the bench extra)")
    progress.add_arguments(p)
    return p


def main(args: argparse.Namespace) -> int:
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or args.agents < 1 or args.seats < 1 or args.hours <= 0 or args.per_hour <= 0:
        print(f"kefu simulate: strategies are {', '.join(STRATEGIES)}; agents, seats, hours "
              "and per-hour must be positive", file=sys.stderr)
        return 2
    if not 0 <= args.offer_miss <= 1 or args.offer_delay <= 0 or args.offer_seconds <= 0:
        print("kefu simulate: --offer-miss is a share (0..1); --offer-delay and "
              "--offer-seconds are positive", file=sys.stderr)
        return 2
    if args.from_redis:
        loaded = load_recorded(args)
        if isinstance(loaded, str):
            print(f"kefu simulate: {loaded}", file=sys.stderr)
            return 1
        trace, team = loaded
        span = trace[-1].at / 3600 if trace else 0.0
        print(f"kefu simulate: {len(trace):,} recorded customers over {span:.1f} h, "
              f"{len(team)} agents ({sum(a.seats for a in team)} seats), mean patience "
              f"{args.patience:g} s (drawn), head start {args.head_start:g} s, seed {args.seed}")
        if not trace or not team:
            print("kefu simulate: nothing recorded to replay (no sessions, or no agents)",
                  file=sys.stderr)
            return 1
    else:
        trace = synthetic_trace(args.seed, args.hours, args.per_hour, args.work, args.patience)
        team = synthetic_team(args.seed, args.agents, args.seats)
        print(f"kefu simulate: {len(trace):,} customers in {args.hours:g} h, {args.agents} "
              f"agents × {args.seats} seats, mean chat {args.work:g} s, mean patience "
              f"{args.patience:g} s, head start {args.head_start:g} s, seed {args.seed}")
    model = OfferModel(delay=args.offer_delay, miss=args.offer_miss,
                       seconds=args.offer_seconds)
    outcomes = []
    for strategy in strategies:
        started = time.perf_counter()
        with progress.bar(len(trace), f"simulate {strategy}", "customer",
                          args.progress) as pb:
            outcomes.append(simulate(trace, team, strategy, args.head_start, model, args.seed,
                                     pb.update))
        print(f"  {strategy}: simulated in {time.perf_counter() - started:.1f} s", flush=True)
    print(table(outcomes))
    for o in outcomes:
        if o.offers:
            print(f"{o.strategy}: {o.offers:,} offers, {o.expired:,} expired, agents set away "
                  f"{o.set_away} times (accept after {model.delay:g} s on average, "
                  f"{model.miss:.0%} missed, {model.seconds:g} s to answer)")
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
