"""The benchmark command line and the plots' data series (no servers started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kefu.bench.suite import SCENARIOS, build_parser, main


def test_unknown_scenario_is_refused_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["relay", "nope"]) == 2
    assert "unknown scenario(s): nope" in capsys.readouterr().err


def test_plot_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot"]) == 2
    assert "usage" in capsys.readouterr().err


def test_every_scenario_is_selectable_by_name() -> None:
    args = build_parser().parse_args(list(SCENARIOS) + ["--pairs", "10", "--rate", "50"])
    assert args.scenarios == list(SCENARIOS)
    assert (args.pairs, args.rate, args.agents) == (10, 50.0, None)  # None: per-scenario default


def test_relay_plot_series_and_files(tmp_path: Path) -> None:
    plots = pytest.importorskip("kefu.bench.plots")  # matplotlib: the `bench` extra

    def phase(rate: float | None, p50: float, p99: float) -> dict[str, object]:
        lat = {"p50": p50, "p99": p99}
        return {"phase": "x", "offered_per_s": rate, "ack_ms": lat, "deliver_ms": lat}

    relay = {"phases": [phase(None, 100, 200), phase(2000, 9, 90), phase(500, 1, 3)]}
    s = plots.latency_series(relay, "ack_ms")
    assert s == {"rate": [500, 2000], "p50": [1, 9], "p99": [3, 90]}  # closed loop left out
    doc = {"cpus": 2, "results": {"relay": relay, "baseline": relay}}
    f = tmp_path / "relay-x.json"
    f.write_text(json.dumps(doc))
    made = plots.plot_file(f, tmp_path / "png")
    assert [p.name for p in made] == ["relay-latency.png"]
    assert made[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
