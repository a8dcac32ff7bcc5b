"""Progress bars for the long CLI jobs: ``backup``, ``restore``, ``bench``, ``simulate``
and the retention ``purge``.

One helper over tqdm, so every job behaves the same way: the bar goes to **stderr** (stdout
keeps the job's JSON or table, fit for a pipe) and shows only when stderr is a terminal,
so scripts, cron mails and CI logs stay clean. Forced either way by ``--progress`` /
``--no-progress`` (:func:`add_arguments`) or, without a flag, ``KEFU_PROGRESS=1`` / ``0``.

Use::

    from kefu import progress

    progress.add_arguments(parser)                      # --progress / --no-progress
    with progress.bar(total, "purge", "key", args.progress) as pb:
        for batch in batches:
            ...
            pb.update(len(batch))

Called on the CLI's main thread (a bar is not meant to be shared between threads).
"""

from __future__ import annotations

import argparse
import os
import sys

from tqdm import tqdm

ENV = "KEFU_PROGRESS"
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (``args.progress``: True, False or None)."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help=f"progress bar on stderr (default: when stderr is a terminal; "
                             f"env {ENV}=1|0)")


def enabled(flag: bool | None = None) -> bool:
    """Whether to draw: the flag if given, else ``KEFU_PROGRESS``, else stderr is a TTY."""
    if flag is not None:
        return flag
    env = os.environ.get(ENV, "").strip().lower()
    if env in _ON:
        return True
    if env in _OFF:
        return False
    return sys.stderr.isatty()


def bar(total: float | None, desc: str, unit: str = "it", flag: bool | None = None,
        **options: object) -> tqdm:
    """A tqdm bar on stderr, disabled (a no-op) unless :func:`enabled`.

    Args:
        total: the work to do, when known (``None``: a counter with a rate, no percentage).
        desc: the job's name, shown first (``restore``, ``simulate least_loaded``).
        unit: what is counted (``key``, ``customer``, ``scenario``).
        flag: ``args.progress`` from :func:`add_arguments`.
        **options: more tqdm options (``unit_scale``, ``postfix``…).
    """
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled(flag),
                dynamic_ncols=True, mininterval=0.2, **options)


def finish(pb: tqdm, done: float) -> None:
    """Set a bar whose total was unknown (a server-side job) to ``done`` of ``done``."""
    pb.total = done
    pb.n = done
    pb.refresh()
