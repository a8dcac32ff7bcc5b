"""``GET /metrics`` (issue 16, item 1): the counters move with real traffic (a customer
and agents exchange messages, an offer, a transfer), the connections gauge comes back
down, the Grafana dashboard names only series that exist, and KEFU_METRICS_TOKEN closes
the endpoint (without it it is open: the role matrix's row)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import E2E_ENV, customer, new_team
from tests.helpers import WS, Api, ServerProcess, connect, open_pair, running

TOKEN = "metrics-token-0123456789abcdef"
DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "kefu-dashboard.json"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("metrics")), **E2E_ENV,
                 KEFU_METRICS_TOKEN=TOKEN) as srv:
        yield srv


def scrape(server: ServerProcess) -> Samples:
    r = httpx.get(server.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def until(server: ServerProcess, holds: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``holds`` (a gauge set once a tick, a close seen by the loop)."""
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(server)
        if holds(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics never got there"
        time.sleep(0.1)  # polling the endpoint


def test_counters_move_with_real_traffic(server: ServerProcess, admin: Api, sockets: list[WS],
                                         teams: list[str]) -> None:
    before = scrape(server)
    # a customer asks for service and gets an agent at once (least_loaded); three messages
    pair = open_pair(server, admin)
    pair.c.send(type="message", client_msg_id="m1", content="你好")
    pair.c.expect("ack")
    pair.c.send(type="message", client_msg_id="m2", content="在吗")
    pair.c.expect("ack")
    pair.k.send(type="message", client_msg_id="k1", content="在的", session_id=pair.sid)
    pair.k.expect("ack")
    pair.c.send(type="bogus")
    pair.c.expect("error")
    # an offer (a team in offer mode): the customer waits (queue length 1), it is accepted
    b_id, b = admin.create_kefu(max_sessions=2)
    team = new_team(admin, teams, {b_id: 5}, assignment="offer", offer_seconds=60)
    k_b = connect(server, b, sockets)
    b.ok("PUT", f"/api/users/{b_id}/status", {"status": "away"})
    _, _, c2 = customer(server, admin, sockets)
    c2.send(type="request_service", team=team)
    c2.expect("queued")
    c2.send(type="message", client_msg_id="w1", content="我在排队")  # kept while it waits
    c2.expect("ack")
    until(server, lambda s: value(s, "kefu_queue_length", team=team) == 1)
    b.ok("PUT", f"/api/users/{b_id}/status", {"status": "online"})
    offer = k_b.expect("offer")
    k_b.send(type="accept", offer_id=offer["offer_id"])
    c2.expect("assigned")
    k_b.send(type="accept", offer_id=offer["offer_id"])  # too late: gone
    assert k_b.expect("error")["code"] == "offer_gone"
    # a transfer of the first conversation to b
    pair.kefu.ok("POST", f"/api/sessions/{pair.sid}/transfer", {"to_kefu_id": b_id})
    pair.c.expect("transferred")
    during = until(server, lambda s: value(s, "kefu_queue_length", team=team) == 0)
    assert value(during, "kefu_connections", role="kefu") >= 2
    pair.close()
    for ws in sockets:
        ws.close()
    after = until(server, lambda s: all(
        value(s, "kefu_connections", role=r) == value(before, "kefu_connections", role=r)
        for r in ("kehu", "kefu", "admin")))

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kefu_ws_frames_received_total", type="message") == 4
    assert moved("kefu_ws_frames_received_total", type="invalid") == 1
    assert moved("kefu_ws_frames_received_total", type="accept") == 2
    assert moved("kefu_ws_frames_received_total", type="request_service") == 2
    assert moved("kefu_ws_frames_sent_total", type="ack") == 4
    assert moved("kefu_ws_frames_sent_total", type="offer") == 1
    assert moved("kefu_ws_frames_sent_total", type="hello") >= 4
    assert moved("kefu_ws_frames_sent_total", type="other") == 0  # every kind is known
    assert moved("kefu_messages_stored_total") == 4  # the waiting one too
    assert moved("kefu_writer_batch_size_count") >= 1
    assert moved("kefu_ack_latency_seconds_count") == 4
    assert 0 < moved("kefu_ack_latency_seconds_sum") < 3 * 5
    assert moved("kefu_assignments_total", strategy="least_loaded") == 1
    assert moved("kefu_assignments_total", strategy="offer") == 1
    assert moved("kefu_assignments_total", strategy="transfer") == 1
    assert moved("kefu_offers_total", outcome="made") == 1
    assert moved("kefu_offers_total", outcome="accepted") == 1
    assert moved("kefu_offers_total", outcome="gone") == 1
    assert moved("kefu_queue_wait_seconds_count", team=team) == 1  # observed at assignment
    assert moved("kefu_queue_wait_seconds_count", team="none") == 1  # waited 0
    assert value(after, "kefu_redis_errors_total", where="write") == 0
    assert value(after, "process_resident_memory_bytes") > 0


def test_the_dashboard_names_only_series_that_exist(server: ServerProcess) -> None:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    used = {n for e in exprs for n in re.findall(r"\b((?:kefu|process)_[a-z_]+)\b", e)}
    # (the dispatcher sets the queue gauge at its first tick)
    exported = {name for name, _ in until(
        server, lambda s: any(n == "kefu_queue_length" for n, _ in s))}
    assert used - exported == set()
    # and the dashboard covers every kefu series of the issue
    families = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in exported
                if n.startswith("kefu_")}
    covered = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in used}
    assert families - covered == set()


def test_the_token_closes_the_endpoint(server: ServerProcess) -> None:
    url = server.base + "/metrics"
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abc"},
                    {"Authorization": f"Basic {TOKEN}"}):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["success"] is False and r.headers["WWW-Authenticate"] == "Bearer"
        assert "kefu_" not in r.text
    assert "kefu_ws_frames_sent_total" in httpx.get(
        url, headers={"Authorization": f"Bearer {TOKEN}"}).text
