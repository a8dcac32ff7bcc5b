"""What the clients saw against what Redis holds: the drill's figures.

Reads Redis directly (the keys of :mod:`kefu.persistence.keys`), never through the server
under test, so a server that lies about its state cannot pass the check.
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from kefu.drills.client import DrillClient
from kefu.persistence.keys import Keys


@dataclass
class Figures:
    """One drill run. Everything after ``stored`` must be 0."""

    attempted: int = 0  # distinct messages the clients tried to send
    acked: int = 0  # distinct client_msg_ids acked
    stored: int = 0  # messages in Redis that carry one of the drill's client_msg_ids
    lost: int = 0  # acked but not stored (or stored as another message)
    duplicated: int = 0  # extra stored copies of one client_msg_id
    gaps: int = 0  # sessions whose seq is not 1..N (stream, hash and count agree)
    unacked: int = 0  # attempted, never acked by the end
    missed: int = 0  # (participant, session, seq) stored but never delivered to them
    redelivered: int = 0  # a seq delivered twice on one connection
    ack_mismatch: int = 0  # one client_msg_id acked as two different messages
    resends: int = 0
    reconnects: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    FAILURES = ("lost", "duplicated", "gaps", "unacked", "missed", "redelivered",
                "ack_mismatch")

    @property
    def ok(self) -> bool:
        return all(getattr(self, name) == 0 for name in self.FAILURES)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stored_messages(r: Any, keys: Keys, sid: str) -> tuple[list[dict[str, Any]], bool]:
    """A session's stored messages, and whether its ``seq`` is gap-free: stream entry ids
    ``0-1 … 0-N``, each message's own ``seq`` equal to its entry, and the session hash's
    ``seq`` and ``message_count`` both N."""
    pipe = r.pipeline(transaction=True)  # one snapshot, even while appends go on
    pipe.xrange(keys.stream(sid))
    pipe.hgetall(keys.session(sid))
    entries, meta = pipe.execute()
    msgs = [orjson.loads(f["m"]) for _id, f in entries]
    n = len(msgs)
    ok = ([int(eid.split("-")[1]) for eid, _ in entries] == list(range(1, n + 1))
          and [m["seq"] for m in msgs] == list(range(1, n + 1))
          and int(meta.get("seq", 0)) == n and int(meta.get("message_count", 0)) == n)
    return msgs, ok


def tally(r: Any, keys: Keys, clients: list[DrillClient], sids: list[str],
          attempted: set[str]) -> Figures:
    """Compare every client's acks and deliveries with the sessions ``sids`` in Redis."""
    fig = Figures(attempted=len(attempted))
    acks: dict[str, dict[str, Any]] = {}
    errors: collections.Counter[str] = collections.Counter()
    for c in clients:
        acks.update(c.acks)
        fig.redelivered += c.fig.redelivered
        fig.ack_mismatch += c.fig.ack_mismatch
        fig.resends += c.fig.resends
        fig.reconnects += c.fig.reconnects
        errors.update(c.fig.errors)
    fig.errors = dict(errors)
    fig.acked = len([cmid for cmid in acks if cmid in attempted])
    fig.unacked = len(attempted - set(acks))
    by_cmid: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    last_seq: dict[str, int] = {}
    for sid in sids:
        msgs, ok = stored_messages(r, keys, sid)
        fig.gaps += 0 if ok else 1
        last_seq[sid] = len(msgs)
        for m in msgs:
            if m.get("client_msg_id") in attempted:
                by_cmid[m["client_msg_id"]].append(m)
    fig.stored = sum(len(v) for v in by_cmid.values())
    fig.duplicated = sum(len(v) - 1 for v in by_cmid.values())
    for cmid, acked in acks.items():
        copies = by_cmid.get(cmid, [])
        if not any(m["id"] == acked["id"] and m["seq"] == acked["seq"]
                   and m["session_id"] == acked["session_id"] for m in copies):
            fig.lost += 1
    fig.missed = sum(len(missing(c, last_seq)) for c in clients)
    return fig


def missing(client: DrillClient, last_seq: dict[str, int]) -> list[tuple[str, int]]:
    """(session, seq) pairs stored in a session of ``client`` that it never received."""
    out = []
    for sid, n in last_seq.items():
        if client.user_id in sid.split(":"):
            seen = client.seen.get(sid, set())
            out += [(sid, s) for s in range(1, n + 1) if s not in seen]
    return out
