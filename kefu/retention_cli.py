"""``kefu purge [--days N] [--dry-run]``: the retention purge, run by hand
(``persistence/retention.py``; docs/data-rights.md).

It works on Redis directly — ``KEFU_REDIS_URL`` (or Sentinel), else the embedded Redis of
a running server (its socket in ``KEFU_DATA_DIR/redis/``), else it starts the embedded one
for the purge — and is safe while servers run: the same claim script and lock as the
periodic purge. ``--days`` defaults to ``KEFU_RETENTION_DAYS``; ``--days 0`` purges every
session that has ended. A progress bar on stderr (``kefu/progress.py``); what went, as
JSON, on stdout.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import redis

from kefu import progress
from kefu.config import Settings
from kefu.domain import now
from kefu.persistence import retention
from kefu.persistence.embedded import EmbeddedRedis
from kefu.persistence.redis import Store
from kefu.persistence.redis_target import RedisTarget
from kefu.restore import embedded_running
from kefu.uploads.storage import blob_store


def add_parser(sub: Any) -> None:
    p = sub.add_parser("purge", help="remove sessions ended, messages left and uploads older "
                       "than --days (default KEFU_RETENTION_DAYS); safe while servers run")
    p.add_argument("--days", type=float, default=None,
                   help="retention period in days (0: everything that has ended)")
    p.add_argument("--dry-run", action="store_true", help="count what would go, remove nothing")
    progress.add_arguments(p)


def _print(ok: bool, message: str, data: dict[str, Any] | None = None) -> None:
    print(json.dumps({"success": ok, "message": message, "data": data}, ensure_ascii=False,
                     indent=2))


def main(args: argparse.Namespace, settings: Settings) -> int:
    days = args.days if args.days is not None else settings.retention_days
    if days is None or days < 0:
        _print(False, "no retention period: pass --days N (N >= 0) or set KEFU_RETENTION_DAYS")
        return 2
    embedded: EmbeddedRedis | None = None
    target = RedisTarget.configured(settings)
    if target is None:
        if embedded_running(settings) is not None:
            target = RedisTarget(url=f"unix://{settings.redis_dir.resolve() / 'redis.sock'}")
        else:
            embedded = EmbeddedRedis(settings.redis_dir)
            target = RedisTarget(url=embedded.start())
    store = Store(target, settings.redis_prefix)
    at = now()
    try:
        total = retention.candidates(store, at - days * retention.DAY)
        with progress.bar(total, "purge", "session", args.progress) as pb:
            out = retention.purge(store, blob_store(settings), days, dry_run=args.dry_run,
                                  at=at, progress=pb.update)
    except (redis.RedisError, OSError) as exc:
        _print(False, f"Redis error: {exc}")
        return 1
    finally:
        store.client.close()
        if embedded is not None:
            embedded.stop()
    if out.skipped:
        _print(False, "another purge is running (the purge lock is held)", out.view())
        return 1
    _print(True, "dry run: nothing removed" if out.dry_run else "purged", out.view())
    return 0
