"""Every Prometheus series the server exports (``GET /metrics``, docs/operations.md,
"Metrics"), in one place: names ``kefu_*``, help texts, label sets.

Two kinds of series:

- **prometheus-client objects** (:data:`REGISTRY`) for events that are not per frame:
  assignments, offers, actor restarts, writer batches, Redis errors, leases, fencing. They
  are thread-safe (a lock per update), so actor threads, the writer and the IOLoop all
  touch them directly.
- **Loop counters** (:data:`LOOP`) for the hot message path: frames in and out, the
  connections by role and the send→ack latency. Only the IOLoop thread writes them
  (plain ints in dicts whose keys never change, a bucket list), so a frame costs no lock;
  a scrape on any thread reads them (an int read is atomic under the GIL; a value seen
  a frame late is fine) through :class:`LoopCollector`.

Labels are bounded: frame types come from the known sets (anything else is ``other``),
roles are the three user types, teams are the admin-made teams (a customer's unknown
team is ``none``), outcomes and strategies are fixed words. In cluster mode
:func:`exposition` adds ``node="<node id>"`` to every sample, so each node's series are
its own even behind one scrape address.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "LOOP", "REGISTRY", "exposition"]

disable_created_metrics()  # no ``*_created`` twin of every counter (half the series)
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, resident memory, fds
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# --- the bounded label values ---------------------------------------------------------

ROLES = ("kehu", "kefu", "admin")
# client → server (kefu/http/wire.py), plus frames that did not parse
FRAMES_IN = ("message", "read", "typing", "resume", "request_service", "switch", "rate",
             "ping", "note", "accept", "decline", "invalid", "other")
# server → client (kefu/protocol.py, docs/protocol.md)
FRAMES_OUT = ("hello", "ack", "message", "error", "pong", "typing", "read", "rated",
              "resumed", "presence", "switched", "queued", "offer", "offer_closed",
              "connecting", "leave_message", "message_left", "workload", "away", "waiting",
              "assigned", "transferred", "session_ended", "server_closing", "note", "tags",
              "other")
_OUT_KIND = {k.encode(): k for k in FRAMES_OUT}
_TYPE_FIRST = b'{"type":"'  # protocol.ack / protocol.message put the type first
_TYPE_KEY = b'"type":"'  # protocol.encode puts it last
_ACK_PREFIX = b'{"type":"ack","client_msg_id":"'
ARRIVALS_KEPT = 64  # message frames per connection awaiting their ack (the oldest go)

ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WAIT_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

# --- prometheus-client series (any thread) ---------------------------------------------

MESSAGES_STORED = Counter(
    "kefu_messages_stored", "Chat messages stored, new ones only (not resends): appended "
    "to a session's history, or kept for a customer still waiting", registry=REGISTRY)
WRITER_BATCH = Histogram(
    "kefu_writer_batch_size", "Appends written per Redis round trip by the append writer",
    buckets=BATCH_BUCKETS, registry=REGISTRY)
QUEUE_LENGTH = Gauge(
    "kefu_queue_length", "Customers waiting, by team (team=\"none\": no team); set by the "
    "node that runs the dispatcher", ["team"], registry=REGISTRY)
QUEUE_WAIT = Histogram(
    "kefu_queue_wait_seconds", "Time from asking for service to being assigned, by team "
    "(0 when an agent had room at once)", ["team"], buckets=WAIT_BUCKETS, registry=REGISTRY)
ASSIGNMENTS = Counter(
    "kefu_assignments", "Sessions opened, by how the agent was chosen: a strategy "
    "(least_loaded, round_robin, efficiency), offer, admin, agent (took a waiting "
    "customer), transfer", ["strategy"], registry=REGISTRY)
OFFERS = Counter(
    "kefu_offers", "Offers (teams in offer mode), by outcome: made, accepted, declined, "
    "expired, withdrawn, gone (answered after it had ended)", ["outcome"],
    registry=REGISTRY)
ACTOR_RESTARTS = Counter(
    "kefu_actor_restarts", "Actors restarted by the supervisor, by kind (operator "
    "restarts too)", ["kind"], registry=REGISTRY)
ACTOR_FAILURES = Counter(
    "kefu_actor_failures", "Actors that crashed (failure) or gave up restarting (gave_up), "
    "by kind", ["kind", "event"], registry=REGISTRY)
REDIS_ERROR_COUNT = Counter(
    "kefu_redis_errors", "Redis errors: where=write (a script or append batch: "
    "unreachable or reply lost), where=request (a REST request answered 503)", ["where"],
    registry=REGISTRY)
LEASE_CHANGES = Counter(
    "kefu_lease_changes", "Cluster mode: shard leases this node acquired, lost or handed "
    "over", ["change"], registry=REGISTRY)
FENCED_WRITES = Counter(
    "kefu_fenced_writes", "Cluster mode: writes refused because this node's lease token "
    "was stale, by owner kind", ["kind"], registry=REGISTRY)

STRATEGIES = ("least_loaded", "round_robin", "efficiency", "offer", "admin", "agent",
              "transfer", "other")
OFFER_OUTCOMES = ("made", "accepted", "declined", "expired", "withdrawn", "gone")
ACTOR_KINDS = ("dispatcher", "agent", "session", "other")
QUEUE_WAIT.labels("none")
for _s in STRATEGIES:
    ASSIGNMENTS.labels(_s)
for _o in OFFER_OUTCOMES:
    OFFERS.labels(_o)
for _where in ("write", "request"):
    REDIS_ERROR_COUNT.labels(_where)
for _c in ("acquired", "lost", "handed_over"):
    LEASE_CHANGES.labels(_c)
for _k in ACTOR_KINDS:
    ACTOR_RESTARTS.labels(_k)
    ACTOR_FAILURES.labels(_k, "failure")
    ACTOR_FAILURES.labels(_k, "gave_up")
    FENCED_WRITES.labels(_k)


def actor_kind(actor_id: str) -> str:
    """``session:k:f`` → ``session`` (one of :data:`ACTOR_KINDS`)."""
    kind = actor_id.split(":", 1)[0]
    return kind if kind in ACTOR_KINDS else "other"


def assigned(routing: dict[str, object] | None, transfer: bool, team: str,
             waited: float | None) -> None:
    """A session was opened (the dispatcher's thread): count it by how its agent was
    chosen and, for a customer who asked for service, observe the wait."""
    by = str((routing or {}).get("by", ""))
    if transfer:
        label = "transfer"
    elif by == "strategy":
        label = str((routing or {}).get("strategy", "other"))
    else:
        label = by
    ASSIGNMENTS.labels(label if label in STRATEGIES else "other").inc()
    if waited is not None:
        QUEUE_WAIT.labels(team).observe(max(waited, 0.0))


def publish_queue(teams: Iterable[str | None], known: set[str]) -> None:
    """The dispatcher's queue (one team per waiting customer) → ``kefu_queue_length``
    (its thread, once a tick when the queue changed). A team that is not an existing
    team counts as ``none``; teams with nobody waiting read 0."""
    counts = dict.fromkeys(known, 0)
    counts["none"] = 0
    for team in teams:
        key = team if team in known else "none"
        counts[key] += 1
    for team, n in counts.items():
        QUEUE_LENGTH.labels(team).set(n)
    for team in _published - counts.keys():  # a deleted team's series goes
        QUEUE_LENGTH.remove(team)
    _published.clear()
    _published.update(counts)


_published: set[str] = set()  # the teams kefu_queue_length has a series for


def queue_gone() -> None:
    """The dispatcher stopped on this node (its thread): its queue is no longer ours."""
    QUEUE_LENGTH.clear()
    _published.clear()


# --- the loop counters (IOLoop thread) --------------------------------------------------


class LoopStats:
    """Counters of the message path; written on the IOLoop thread only."""

    def __init__(self) -> None:
        self.frames_in = dict.fromkeys(FRAMES_IN, 0)
        self.frames_out = dict.fromkeys(FRAMES_OUT, 0)
        self.connections = dict.fromkeys(ROLES, 0)
        self.ack_counts = [0] * (len(ACK_BUCKETS) + 1)  # per bucket (not cumulative)
        self.ack_sum = 0.0

    def received(self, kind: str) -> None:
        """A frame came in (``kind``: its parsed type, or ``invalid``). Loop thread."""
        self.frames_in[kind if kind in self.frames_in else "other"] += 1

    def connected(self, role: str, delta: int) -> None:
        """A socket of ``role`` opened (+1) or closed (-1). Loop thread."""
        if role in self.connections:
            self.connections[role] += delta

    def sent(self, data: bytes, arrivals: dict[str, float] | None) -> None:
        """A frame went out; an ``ack`` of a message whose arrival is in ``arrivals``
        is timed (and forgotten there). Loop thread."""
        if data.startswith(_TYPE_FIRST):
            raw = data[9:data.find(b'"', 9)]
        elif data.endswith(b'"}'):
            start = data.rfind(_TYPE_KEY, -64)
            raw = data[start + 8:-2] if start >= 0 else b""
        else:
            raw = b""
        kind = _OUT_KIND.get(raw, "other")
        self.frames_out[kind] += 1
        if kind == "ack" and arrivals and data.startswith(_ACK_PREFIX):
            end = data.find(b'"', len(_ACK_PREFIX))
            began = arrivals.pop(data[len(_ACK_PREFIX):end].decode(), None)
            if began is not None:
                self.observe_ack(time.monotonic() - began)

    def observe_ack(self, seconds: float) -> None:
        self.ack_counts[bisect_left(ACK_BUCKETS, seconds)] += 1
        self.ack_sum += seconds


def arrived(arrivals: dict[str, float], client_msg_id: str) -> None:
    """A message frame came in (loop thread): its time, for the ack's latency. At most
    :data:`ARRIVALS_KEPT` per connection (a message refused with an error never gets an
    ack: the oldest entries go)."""
    if len(arrivals) >= ARRIVALS_KEPT:
        del arrivals[next(iter(arrivals))]
    arrivals[client_msg_id] = time.monotonic()


LOOP = LoopStats()


class LoopCollector(Collector):
    """Exports :data:`LOOP` at scrape time (any thread; it only reads)."""

    def __init__(self, stats: LoopStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        conns = GaugeMetricFamily("kefu_connections", "Open WebSocket connections, by role",
                                  labels=["role"])
        for role, n in list(s.connections.items()):
            conns.add_metric([role], n)
        yield conns
        frames_in = CounterMetricFamily("kefu_ws_frames_received",
                                        "WebSocket frames received, by type", labels=["type"])
        for kind, n in list(s.frames_in.items()):
            frames_in.add_metric([kind], n)
        yield frames_in
        frames_out = CounterMetricFamily("kefu_ws_frames_sent", "WebSocket frames sent, by type",
                                         labels=["type"])
        for kind, n in list(s.frames_out.items()):
            frames_out.add_metric([kind], n)
        yield frames_out
        counts = list(s.ack_counts)
        buckets, running = [], 0
        for bound, n in zip((*map(str, ACK_BUCKETS), "+Inf"), counts, strict=True):
            running += n
            buckets.append((bound, running))
        ack = HistogramMetricFamily("kefu_ack_latency_seconds",
                                    "From a chat message frame's arrival to its ack being "
                                    "sent (stored in Redis), on this node")
        ack.add_metric([], buckets, sum_value=s.ack_sum)
        yield ack


REGISTRY.register(LoopCollector(LOOP))


class _WithNode(Collector):
    """Every sample of ``source`` with ``node=<id>`` added (cluster mode)."""

    def __init__(self, source: CollectorRegistry, node: str) -> None:
        self.source, self.node = source, node

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            family.samples = [s._replace(labels={**s.labels, "node": self.node})
                              for s in family.samples]
            yield family


def exposition(node: str | None = None) -> bytes:
    """The text exposition of every series; ``node``: label them with it (cluster
    mode). Any thread; it reads /proc (the process collector): keep it off the loop."""
    return generate_latest(_WithNode(REGISTRY, node) if node else REGISTRY)
