"""``scripts/bench`` / ``kefu bench``: the benchmark scenarios of issue 4, by name.

``relay`` and ``baseline`` (``kefu.bench.relay``), ``connections``, ``burst``,
``recovery``, ``history``, ``flood``, ``cluster`` and ``replicas`` (one module each), every
one against fresh servers. Each
prints a markdown table and writes ``var/bench/<scenario>-<timestamp>.json`` (relay and
baseline share one file, so their ratio can be read back). ``scripts/bench plot FILE…``
draws PNG plots of saved results into ``docs/bench/`` (``--plots`` does it after a run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from kefu import progress

SCENARIOS = ("relay", "baseline", "connections", "burst", "recovery", "history", "flood",
             "cluster", "replicas")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", default=[],
                   help=f"any of {', '.join(SCENARIOS)} (default: all); "
                        "or 'plot FILE.json…' to draw saved results")
    g = p.add_argument_group("relay, baseline, connections")
    g.add_argument("--pairs", type=int, default=None,
                   help="customer–agent pairs (relay/baseline 500, connections 5000)")
    g.add_argument("--seconds", type=float, default=None,
                   help="seconds per phase (relay/baseline 10, connections 20)")
    g.add_argument("--rates", default="500,1000,2000",
                   help="relay/baseline open-loop offered rates in msg/s, comma-separated")
    g.add_argument("--rate", type=float, default=500.0,
                   help="connections: offered msg/s across all pairs (500)")
    g.add_argument("--workers", type=int, default=2, help="load-generator processes (2)")
    g.add_argument("--no-closed", action="store_true", help="relay/baseline: no closed loop")
    g.add_argument("--grace", type=float, default=5.0,
                   help="open loop: seconds to wait for the last acks (5)")
    g = p.add_argument_group("burst, recovery")
    g.add_argument("--guests", type=int, default=1000, help="burst: guests arriving (1000)")
    g.add_argument("--agents", type=int, default=None, help="agents (burst 200, recovery 1000)")
    g.add_argument("--max-sessions", type=int, default=None,
                   help="each agent's capacity (burst 5; recovery sessions/agents)")
    g.add_argument("--arrival", type=float, default=1.0,
                   help="burst: seconds over which the guests arrive (1)")
    g.add_argument("--sessions", type=int, default=10000, help="recovery: sessions (10000)")
    g.add_argument("--queued", type=int, default=500,
                   help="recovery: guests left waiting in the queue (500)")
    g.add_argument("--runs", type=int, default=3,
                   help="recovery: timed restarts; replicas: interleaved rounds of ack0 "
                        "and ack1 (3)")
    g = p.add_argument_group("history")
    g.add_argument("--session-messages", type=int, default=100_000,
                   help="history: messages in the one long session (100000)")
    g.add_argument("--no-ws", action="store_true",
                   help="history: store the long session with the server's append script "
                        "too, instead of sending it over WebSockets")
    g.add_argument("--total-messages", type=int, default=1_000_000,
                   help="history: messages stored in all (1000000)")
    g.add_argument("--repeat", type=int, default=20,
                   help="history: timed repetitions of each page and search (20)")
    g = p.add_argument_group("cluster")
    g.add_argument("--nodes", default="0,1,2,3",
                   help="cluster: configurations, comma-separated node counts (0: single "
                        "process mode)")
    g.add_argument("--takeover-runs", type=int, default=3,
                   help="cluster: timed kill -9 takeovers (3)")
    g.add_argument("--lease-ttl-ms", type=int, default=10_000,
                   help="cluster: the lease TTL of the takeover runs (10000)")
    g = p.add_argument_group(
        "replicas", "KEFU_ACK_REPLICAS=0 against =1 on Redis under Sentinel: --pairs "
        "(500), --seconds (10), --rates, --workers, --grace, --runs (rounds, each "
        "configuration on fresh processes; the table shows medians)")
    g = p.add_argument_group("flood")
    g.add_argument("--frames", type=int, default=20_000,
                   help="flood: bogus frames from the one socket (20000)")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="var/bench", help="JSON output directory")
    g.add_argument("--plots", action="store_true",
                   help="draw the PNG plots of this run into --plot-dir")
    g.add_argument("--plot-dir", default="docs/bench", help="where plots go (docs/bench)")
    progress.add_arguments(g)
    return p


def _save(out_dir: str, name: str, args: argparse.Namespace,
          results: dict[str, Any]) -> Path:
    doc = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
           "argv": sys.argv[1:], "config": {k: v for k, v in vars(args).items()
                                            if k not in ("scenarios", "func")},
           "results": results}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(f"saved {path}")
    return path


def _relay(args: argparse.Namespace, names: list[str]) -> tuple[dict[str, Any], str]:
    from kefu.bench import relay  # noqa: PLC0415

    pairs, seconds = args.pairs or 500, args.seconds or 10.0
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    results = {}
    for name in names:
        print(f"{name}: {pairs} pairs, {args.workers} load-generator worker(s), "
              f"{seconds:g} s per phase", file=sys.stderr, flush=True)
        results[name] = relay.run_scenario(name, pairs, seconds, rates, args.workers,
                                           not args.no_closed, args.grace)
    return results, relay.table(results)


def _one(name: str, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Run one of the scenarios 3–6 → ({name: result}, its table)."""
    print(f"{name}: starting", file=sys.stderr, flush=True)
    if name == "connections":
        from kefu.bench import connections as mod  # noqa: PLC0415

        r = mod.run(args.pairs or 5000, args.rate, args.seconds or 20.0, args.workers,
                    args.grace)
    elif name == "burst":
        from kefu.bench import burst as mod  # type: ignore[no-redef]  # noqa: PLC0415

        r = mod.run(args.guests, args.agents or 200, args.max_sessions or 5, args.arrival)
    elif name == "recovery":
        from kefu.bench import recovery as mod  # type: ignore[no-redef]  # noqa: PLC0415

        agents = args.agents or 1000
        r = mod.run(args.sessions, agents, args.queued, args.runs, args.max_sessions)
    elif name == "flood":
        from kefu.bench import flood as mod  # type: ignore[no-redef]  # noqa: PLC0415

        r = mod.run(args.frames)
    elif name == "cluster":
        from kefu.bench import cluster as mod  # type: ignore[no-redef]  # noqa: PLC0415

        r = mod.run(args.pairs or 500, args.seconds or 10.0,
                    [float(x) for x in args.rates.split(",") if x.strip()], args.workers,
                    args.grace, [int(n) for n in args.nodes.split(",") if n.strip()],
                    args.takeover_runs, args.lease_ttl_ms)
    elif name == "replicas":
        from kefu.bench import replicas as mod  # type: ignore[no-redef]  # noqa: PLC0415

        r = mod.run(args.pairs or 500, args.seconds or 10.0,
                    [float(x) for x in args.rates.split(",") if x.strip()], args.workers,
                    args.grace, args.runs)
    else:
        from kefu.bench import history as mod  # type: ignore[no-redef]  # noqa: PLC0415

        r = mod.run(args.session_messages, args.total_messages, args.repeat, not args.no_ws)
    return {name: r}, mod.table(r)


def plot_files(files: list[str], plot_dir: str) -> int:
    try:
        from kefu.bench import plots  # noqa: PLC0415
    except ImportError as exc:
        print(f"no plots: matplotlib is missing ({exc}); scripts/bench installs the "
              "'bench' extra", file=sys.stderr)
        return 0
    for f in files:
        for path in plots.plot_file(Path(f), Path(plot_dir)):
            print(f"plot {path}")
    return 0


def main(argv: list[str] | None = None, args: argparse.Namespace | None = None) -> int:
    if args is None:
        args = build_parser().parse_args(argv)
    if args.scenarios[:1] == ["plot"]:
        if len(args.scenarios) < 2:
            print("usage: scripts/bench plot var/bench/FILE.json…", file=sys.stderr)
            return 2
        return plot_files(args.scenarios[1:], args.plot_dir)
    scenarios = args.scenarios or list(SCENARIOS)
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:
        print(f"unknown scenario(s): {', '.join(bad)} (have: {', '.join(SCENARIOS)}, plot)",
              file=sys.stderr)
        return 2
    saved: list[Path] = []
    pair = [s for s in ("relay", "baseline") if s in scenarios]
    rest = [s for s in SCENARIOS[2:] if s in scenarios]
    with progress.bar(len(pair) + len(rest), "bench", "scenario", args.progress) as pb:
        if pair:
            pb.set_postfix_str("+".join(pair))
            results, text = _relay(args, pair)
            pb.write(text, file=sys.stdout)
            saved.append(_save(args.out, pair[0], args, results))
            pb.update(len(pair))
        for name in rest:
            pb.set_postfix_str(name)
            results, text = _one(name, args)
            pb.write(text, file=sys.stdout)
            saved.append(_save(args.out, name, args, results))
            pb.update(1)
    if args.plots:
        plot_files([str(p) for p in saved], args.plot_dir)
    return 0
