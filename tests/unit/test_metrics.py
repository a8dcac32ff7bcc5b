"""The pure parts of kefu/metrics.py: frame kinds read off encoded bytes, the ack timer's
bound, the queue gauge's bounded team label, the node label of cluster mode."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kefu import metrics, protocol
from kefu.metrics import ARRIVALS_KEPT, FRAMES_OUT, LoopStats, arrived


def test_every_frame_the_protocol_builds_has_its_kind() -> None:
    stats = LoopStats()
    frames = [protocol.ack("c1", b"{}"), protocol.message(b'{"type":"x"}'),
              protocol.pong(None), protocol.error("bad_frame", "r"),
              protocol.queued(1, "normal", None, 0, None),
              protocol.offer_closed("of_1", "k", "accepted"), b"[1]", b'{"x":"y"}']
    for data in frames:
        stats.sent(data, None)
    assert {k: n for k, n in stats.frames_out.items() if n} == {
        "ack": 1, "message": 1, "pong": 1, "error": 1, "queued": 1, "offer_closed": 1,
        "other": 2}
    assert set(stats.frames_out) == set(FRAMES_OUT)  # no key is ever added


def test_an_ack_is_timed_from_its_message_and_arrivals_stay_bounded() -> None:
    stats, arrivals = LoopStats(), dict[str, float]()
    for i in range(ARRIVALS_KEPT + 10):
        arrived(arrivals, f"m{i}")
    assert len(arrivals) == ARRIVALS_KEPT and "m0" not in arrivals
    stats.sent(protocol.ack("m0", b"{}"), arrivals)  # forgotten: not timed
    stats.sent(protocol.ack("m20", b"{}"), arrivals)
    stats.sent(protocol.ack("m20", b"{}"), arrivals)  # a duplicate ack: timed once
    assert sum(stats.ack_counts) == 1 and "m20" not in arrivals
    stats.received("message")
    stats.received("made-up")
    assert stats.frames_in["message"] == 1 and stats.frames_in["other"] == 1


def test_queue_gauge_keeps_unknown_teams_out() -> None:
    metrics.publish_queue(["sales", "sales", None, "no-such-team"], {"sales", "vip"})
    text = metrics.exposition().decode()
    assert 'kefu_queue_length{team="sales"} 2.0' in text
    assert 'kefu_queue_length{team="vip"} 0.0' in text
    assert 'kefu_queue_length{team="none"} 2.0' in text
    assert "no-such-team" not in text
    metrics.publish_queue([], {"vip"})  # sales was deleted: its series goes
    assert 'team="sales"' not in metrics.exposition().decode()
    metrics.queue_gone()
    assert "kefu_queue_length{" not in metrics.exposition().decode()


def test_cluster_mode_labels_every_sample_with_the_node() -> None:
    families = text_string_to_metric_families(metrics.exposition("n1:8080").decode())
    samples = [s for f in families for s in f.samples]
    assert samples and all(s.labels.get("node") == "n1:8080" for s in samples)
