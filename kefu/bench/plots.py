"""PNG plots of saved benchmark results (``scripts/bench plot var/bench/FILE.json``).

* ``relay-latency.png``: send→ack and send→delivery p50/p99 against the offered rate, relay
  beside the bare baseline (from a relay/baseline file);
* ``burst.png``: guests assigned over time against their arrivals;
* ``history.png``: median and p99 of each page and search, with the issue's targets.

Needs matplotlib (the ``bench`` extra, which ``scripts/bench`` installs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

STYLE = {"relay": "tab:red", "baseline": "tab:blue"}
PLAIN = FuncFormatter(lambda v, _pos: f"{v:g}")  # 0.5, 10, 1000 rather than 10^x


def latency_series(result: dict[str, Any], key: str) -> dict[str, list[float]]:
    """The open-loop phases of one relay/baseline result → offered rates and
    p50/p99 (ms) of ``key`` (``ack_ms`` or ``deliver_ms``), by rate."""
    phases = sorted((p for p in result["phases"] if p.get("offered_per_s")),
                    key=lambda p: p["offered_per_s"])
    return {"rate": [p["offered_per_s"] for p in phases],
            "p50": [p[key]["p50"] for p in phases],
            "p99": [p[key]["p99"] for p in phases]}


def plot_relay(results: dict[str, Any], out: Path, title: str) -> Path | None:
    names = [n for n in ("relay", "baseline") if n in results]
    if not names:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, label in zip(axes, ("ack_ms", "deliver_ms"), ("send→ack", "send→delivery"),
                              strict=True):
        for name in names:
            s = latency_series(results[name], key)
            ax.plot(s["rate"], s["p99"], "o-", color=STYLE[name], label=f"{name} p99")
            ax.plot(s["rate"], s["p50"], "o--", color=STYLE[name], alpha=0.6,
                    label=f"{name} p50")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.set_xlabel("offered load (msg/s, open loop)")
        ax.set_title(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency (ms, log scale)")
    axes[0].axhline(10, color="grey", lw=0.8, ls=":", label="target p99 at 1,000/s")
    axes[1].axhline(15, color="grey", lw=0.8, ls=":", label="target p99 at 1,000/s")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = out / "relay-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_burst(r: dict[str, Any], out: Path, title: str) -> Path | None:
    curve = r.get("curve") or []
    if not curve:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    n, arrival = r["guests"], r["arrival_s"]
    ax.plot([0, arrival], [0, n], color="grey", ls="--", label="requests sent (arrivals)")
    ax.step([x for x, _ in curve], [y for _, y in curve], where="post", color="tab:red",
            label="assigned")
    ax.axvline(2.0, color="grey", lw=0.8, ls=":", label="target: all within 2 s")
    ax.set_xlabel("seconds since the first request_service")
    ax.set_ylabel("guests")
    a = r["assign_ms"]
    ax.set_title(f"{n} guests, {r['agents']} agents × {r['max_sessions']}: all assigned in "
                 f"{r['all_assigned_s']} s; latency p50 {a['p50']:.0f} / p99 {a['p99']:.0f} ms",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = out / "burst.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_history(r: dict[str, Any], out: Path, title: str) -> Path | None:
    rows = [(f"page {k}", v, 50.0) for k, v in r["pages"].items()]
    rows += [(f"search: {k}", v, 500.0 if v["selective"] else None)
             for k, v in r["searches"].items()]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [v["p99_ms"] for _, v, _ in rows], color="tab:red", alpha=0.35, label="p99")
    ax.barh(ys, [v["median_ms"] for _, v, _ in rows], color="tab:red", label="median")
    for y, (_, _, target) in zip(ys, rows, strict=True):
        if target is not None:
            ax.plot([target, target], [y - 0.4, y + 0.4], color="black", lw=1.5)
    ax.set_yticks(ys, [name for name, _, _ in rows], fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(PLAIN)
    ax.set_xlabel("ms (log scale); black marks: targets (50 ms a page, 500 ms a search)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.set_title(f"{r['total_messages']:,} messages; long session {r['session_messages']:,}",
                 fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = out / "history.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_file(path: Path, out: Path) -> list[Path]:
    """Every plot a saved result file allows → the PNGs written."""
    doc = json.loads(path.read_text())
    results = doc["results"]
    out.mkdir(parents=True, exist_ok=True)
    title = f"{path.name} — {doc.get('cpus', '?')} cores shared by server, Redis and load generator"
    made = [plot_relay(results, out, title)]
    if "burst" in results:
        made.append(plot_burst(results["burst"], out, title))
    if "history" in results:
        made.append(plot_history(results["history"], out, title))
    return [p for p in made if p is not None]
