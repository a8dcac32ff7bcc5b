"""Offers (issue 14, item 2): a part of the dispatcher (its thread only).

A team with ``assignment: offer`` does not hand a customer straight to an agent: the agent
the strategy chose gets an ``offer`` frame (the customer, the team, a preview of what it
wrote, the expiry) and a seat of its is reserved; it answers ``accept`` or ``decline``.
Accepting opens the session (the open script checks the offer is still out, to this agent,
and removes it in the same step); declining, or ``KEFU_OFFER_SECONDS`` without an answer,
offers the customer to the next agent — never again to one who declined or missed it,
while another could take it. After ``KEFU_OFFER_MISSES_AWAY`` expiries in a row an agent is
set ``away`` and told why (``away`` frame). The customer is told an agent is being
connected (``connecting``) and, when the offer falls through, its place again (``queued``).

Redis holds every offer (the ``offers`` hash, at most one per customer: the offer script
refuses a second), so a dispatcher that restarts or moves to another node reads them
back, and an offer is never held by two agents at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from kefu import metrics, protocol
from kefu.actors.messages import Accepted, Rejected
from kefu.actors.routing import AgentSlot, QueueEntry
from kefu.actors.runtime import Runtime
from kefu.actors.seats import Seats
from kefu.actors.team_rules import TeamBook
from kefu.actors.waiting_queue import WaitingQueue
from kefu.domain import AgentStatus, iso, now
from kefu.persistence import dispatch
from kefu.persistence.fencing import Fence, Fenced
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason


class Desk(Protocol):
    """What offering needs of the dispatcher's assigner (``assigner.Assigner``)."""

    rt: Runtime
    queue: WaitingQueue
    seats: Seats
    book: TeamBook

    @property
    def fence(self) -> Fence: ...

    def stale(self, refused: dispatch.Refused) -> Rejected: ...

    def open(self, kehu_id: str, kehu_name: str, slot: AgentSlot, transferred_from: str = "",
             closing: dispatch.Command | None = None, force: bool = False,
             routing: dict[str, Any] | None = None,
             offer_id: str = "") -> Accepted | Rejected: ...

    def fill_seats(self) -> None: ...

PREVIEW_CHARS = 100


@dataclass(frozen=True, slots=True)
class Offer:
    """One customer offered to one agent until ``expires_at``."""

    offer_id: str
    kehu_id: str
    kefu_id: str
    team: str | None
    expires_at: float
    routing: dict[str, Any]  # why this agent (stored with the session when accepted)

    def json(self) -> bytes:
        return orjson.dumps({"id": self.offer_id, "kefu_id": self.kefu_id, "team": self.team,
                             "expires_at": self.expires_at, "routing": self.routing})

    @classmethod
    def from_json(cls, kehu_id: str, raw: str | bytes) -> Offer:
        data = orjson.loads(raw)
        return cls(offer_id=data["id"], kehu_id=kehu_id, kefu_id=data["kefu_id"],
                   team=data.get("team"), expires_at=float(data["expires_at"]),
                   routing=data.get("routing") or {})


@dataclass
class Offering:
    desk: Desk
    out: dict[str, Offer] = field(default_factory=dict)  # kehu id → its offer
    passed: dict[str, set[str]] = field(default_factory=dict)  # kehu → who declined/missed
    misses: dict[str, int] = field(default_factory=dict)  # kefu → expiries in a row

    def restore(self, raw: dict[str, str]) -> None:
        """The offers hash read at start → memory, each agent's seat reserved again."""
        for kehu_id, value in raw.items():
            offer = Offer.from_json(kehu_id, value)
            self.out[kehu_id] = offer
            slot = self.desk.seats.get(offer.kefu_id)
            if slot is not None:
                slot.reserved.add(kehu_id)

    def excluded(self, kehu_id: str) -> set[str]:
        return self.passed.get(kehu_id, set())

    # --- making an offer ------------------------------------------------------------------

    def make(self, entry: QueueEntry, slot: AgentSlot, why: dict[str, Any]) -> bool:
        """Offer ``entry``'s customer to ``slot`` → whether the offer is out."""
        rt = self.desk.rt
        rule = self.desk.book.get(entry.team)
        seconds = (rule.offer_seconds if rule is not None and rule.offer_seconds
                   else rt.settings.offer_seconds)
        offer = Offer(offer_id=f"of_{uuid.uuid4().hex[:16]}", kehu_id=entry.kehu_id,
                      kefu_id=slot.kefu_id, team=entry.team,
                      expires_at=now() + seconds,
                      routing={**why, "by": "offer"})
        try:
            refused = dispatch.put_offer(rt.store, entry.kehu_id, offer.json(), self.desk.fence)
        except Fenced:
            self.desk.stale(dispatch.Refused("fenced"))
            return False
        except REDIS_ERRORS:
            return False
        if refused is not None:  # memory was stale (another dispatcher, a restart): reload
            self.desk.stale(refused)
            return False
        self.out[entry.kehu_id] = offer
        metrics.OFFERS.labels("made").inc()
        slot.reserved.add(entry.kehu_id)
        self.tell(offer, entry, seconds)
        rt.outbox.to_users([entry.kehu_id], protocol.connecting(entry.team))
        rt.event("info", "dispatcher", "offered", kehu_id=entry.kehu_id,
                 kefu_id=slot.kefu_id, offer_id=offer.offer_id)
        return True

    def tell(self, offer: Offer, entry: QueueEntry, seconds: float) -> None:
        """The ``offer`` frame to every connection of the agent."""
        self.desk.rt.outbox.to_users([offer.kefu_id], protocol.offer(
            offer.offer_id, {"id": entry.kehu_id, "name": entry.kehu_name}, entry.team,
            self.preview(entry.kehu_id), iso(offer.expires_at), round(seconds, 1)))

    def resend(self, kefu_id: str) -> None:
        """A new connection of the agent (a reload, another tab): the offers it holds
        again, with the time left — else it could only let them expire."""
        at = now()
        for offer in [o for o in self.out.values() if o.kefu_id == kefu_id]:
            entry = self.desk.queue.entries.get(offer.kehu_id)
            if entry is not None:
                self.tell(offer, entry, max(offer.expires_at - at, 0.0))

    def preview(self, kehu_id: str) -> str | None:
        """The first thing the customer wrote while it waited (cut), if anything."""
        rt = self.desk.rt
        try:
            first = rt.store.client.lindex(rt.store.keys.waiting_messages(kehu_id), 0)
        except REDIS_ERRORS:
            return None
        if not first:
            return None
        content = orjson.loads(first).get("content") or ""
        return content[:PREVIEW_CHARS]

    # --- answers and expiry ---------------------------------------------------------------

    def answer(self, kefu_id: str, offer_id: str, accept: bool) -> Accepted | Rejected:
        """The agent's ``accept`` or ``decline`` of ``offer_id``."""
        offer = next((o for o in self.out.values() if o.offer_id == offer_id), None)
        if offer is None or offer.kefu_id != kefu_id:
            metrics.OFFERS.labels("gone").inc()
            return Rejected(reason=RejectReason.OFFER_GONE)
        slot = self.desk.seats.get(kefu_id)
        entry = self.desk.queue.entries.get(offer.kehu_id)
        if not accept:
            return self.take_back(offer, "declined")
        if slot is None or entry is None:
            self.take_back(offer, "withdrawn")
            return Rejected(reason=RejectReason.OFFER_GONE)
        slot.reserved.discard(offer.kehu_id)  # the seat it held becomes the session's
        waited = round(max(now() - entry.waiting_since, 0.0), 1)
        result = self.desk.open(entry.kehu_id, entry.kehu_name, slot,
                                transferred_from=entry.previous, offer_id=offer.offer_id,
                                routing={**offer.routing, "waited_seconds": waited,
                                         "offer_id": offer.offer_id})
        if isinstance(result, Rejected):
            if offer.kehu_id in self.out:  # (a refusal reloaded everything: not then)
                slot.reserved.add(offer.kehu_id)
            return result
        self.misses[kefu_id] = 0
        self.desk.fill_seats()
        return Accepted(data={"offer_id": offer_id, "session_id": result.data["session_id"]})

    def take_back(self, offer: Offer, outcome: str) -> Accepted | Rejected:
        """Withdraw ``offer`` (declined, expired, its agent away): the customer is offered
        to the next agent, not to this one again while another can take it."""
        rt = self.desk.rt
        try:
            dispatch.drop_offer(rt.store, offer.kehu_id, offer.offer_id, self.desk.fence)
        except Fenced:
            return self.desk.stale(dispatch.Refused("fenced"))
        except REDIS_ERRORS:
            return Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
        self.forget(offer.kehu_id, outcome)
        rt.outbox.to_users([offer.kehu_id], protocol.connecting(offer.team, active=False))
        if outcome in ("declined", "expired"):
            self.passed.setdefault(offer.kehu_id, set()).add(offer.kefu_id)
        self.desk.queue.sent.pop(offer.kehu_id, None)  # its place, again
        self.desk.queue.dirty = True
        if outcome == "expired":
            self.missed(offer.kefu_id)
        self.desk.fill_seats()
        return Accepted(data={"offer_id": offer.offer_id, "outcome": outcome})

    def forget(self, kehu_id: str, outcome: str) -> None:
        """Memory only: the offer is gone from Redis (taken back, or the open script
        removed it when the customer was assigned). Its agent hears how it ended."""
        offer = self.out.pop(kehu_id, None)
        if offer is None:
            return
        if outcome in metrics.OFFER_OUTCOMES:
            metrics.OFFERS.labels(outcome).inc()
        slot = self.desk.seats.get(offer.kefu_id)
        if slot is not None:
            slot.reserved.discard(kehu_id)
        if outcome == "accepted" or kehu_id not in self.desk.queue.entries:
            self.passed.pop(kehu_id, None)
        self.desk.rt.outbox.to_users([offer.kefu_id], protocol.offer_closed(
            offer.offer_id, kehu_id, outcome))

    def missed(self, kefu_id: str) -> None:
        """An offer to ``kefu_id`` expired: after N in a row it is set away, and told."""
        rt = self.desk.rt
        count = self.misses[kefu_id] = self.misses.get(kefu_id, 0) + 1
        limit = rt.settings.offer_misses_away
        slot = self.desk.seats.get(kefu_id)
        if slot is None or limit <= 0 or count < limit or slot.status is not AgentStatus.ONLINE:
            return
        try:
            rt.users.set_fields(kefu_id, status=AgentStatus.AWAY.value)
        except REDIS_ERRORS:
            return
        slot.status = AgentStatus.AWAY
        self.misses[kefu_id] = 0
        self.withdraw_agent(kefu_id)
        rt.outbox.to_users([kefu_id], protocol.away("missed_offers", count))
        rt.event("warning", "dispatcher", "away_after_missed_offers", kefu_id=kefu_id,
                 misses=count)

    def expire(self, at: float) -> None:
        """Every tick: the offers past their time are taken back."""
        for offer in [o for o in self.out.values() if o.expires_at <= at]:
            if offer.kehu_id in self.out:
                self.take_back(offer, "expired")

    def withdraw_agent(self, kefu_id: str) -> None:
        """The agent can no longer take its offers (away, busy, deleted): take them back
        without counting a miss."""
        for offer in [o for o in self.out.values() if o.kefu_id == kefu_id]:
            self.take_back(offer, "withdrawn")

    def view(self) -> list[dict[str, Any]]:
        """The offers out, for the dispatcher's state (operators, tests)."""
        return [{"offer_id": o.offer_id, "kehu_id": o.kehu_id, "kefu_id": o.kefu_id,
                 "team": o.team, "expires_at": iso(o.expires_at)}
                for o in sorted(self.out.values(), key=lambda o: o.expires_at)]
