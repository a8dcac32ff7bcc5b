"""Run drills one after another, print each run's line, say where a failed run's data is
kept, and count the failures (``scripts/chaos``, with or without ``--cluster``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar


class Run(Protocol):
    ok: bool
    data_dir: str

    def line(self) -> str: ...


R = TypeVar("R", bound=Run)


def run_series(runs: Iterable[Callable[[], R]], label: str) -> list[R]:
    """Each run in turn (blocking) → their results; a summary line at the end."""
    results = []
    for run in runs:
        res = run()
        print(res.line(), flush=True)
        if not res.ok:
            print(f"  data kept in {res.data_dir}", flush=True)
        results.append(res)
    failed = sum(not r.ok for r in results)
    print(f"{label}: {len(results)} runs, {failed} failed", flush=True)
    return results
