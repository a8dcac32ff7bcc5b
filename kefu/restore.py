"""``kefu restore FILE``: put a backup (``kefu backup``, seed 6.2) back into Redis.

It works on Redis directly — ``KEFU_REDIS_URL``, or the embedded Redis under
``KEFU_DATA_DIR/redis/``, started for the restore and stopped after — and only while the
kefu server is stopped: it refuses when anything answers on ``KEFU_HOST:KEFU_PORT`` or
when the embedded redis-server is still running. The file is read in full and checked
before anything is deleted; then every key under the prefix is deleted and each key of
the backup is RESTOREd (REPLACE, with its absolute expiry).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import redis

from kefu import progress
from kefu.config import Settings
from kefu.persistence import backup, system_log
from kefu.persistence.embedded import EmbeddedRedis
from kefu.persistence.keys import Keys
from kefu.persistence.redis_target import RedisTarget


def server_answers(settings: Settings) -> bool:
    """True when something accepts connections on the server's port."""
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    try:
        with socket.create_connection((host, settings.port), timeout=1):
            return True
    except OSError:
        return False


def embedded_running(settings: Settings) -> int | None:
    """The pid of the embedded redis-server if its pidfile names a live process."""
    try:
        pid = int((settings.redis_dir / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _fail(message: str, code: int = 2) -> int:
    print(json.dumps({"success": False, "message": message}, ensure_ascii=False))
    return code


def _key_count(path: Path) -> int | None:
    """The header's key count, for the bar (None when unreadable: verify() says why)."""
    try:
        count = backup.read_header(path).get("key_count")
    except (OSError, ValueError, EOFError, backup.BackupError):
        return None
    return count if isinstance(count, int) else None


def main(file: str, settings: Settings, show_progress: bool | None = None) -> int:
    """``show_progress``: ``--progress``/``--no-progress`` (kefu/progress.py)."""
    path = Path(file)
    if not path.is_file():
        return _fail(f"no such backup file: {path}")
    if server_answers(settings):
        return _fail(f"the kefu server answers on {settings.host}:{settings.port}: stop it "
                     "before restoring (a restore replaces every key under the prefix)")
    embedded: EmbeddedRedis | None = None
    target = RedisTarget.configured(settings)
    if target is None:
        pid = embedded_running(settings)
        if pid is not None:
            return _fail(f"the embedded redis-server (pid {pid}) is running: stop the kefu "
                         "server first")
        embedded = EmbeddedRedis(settings.redis_dir)
        target = RedisTarget(url=embedded.start())
    client = target.client(socket_timeout=60)
    try:
        total = _key_count(path)
        with progress.bar(total, "restore", "key", show_progress) as pb:
            result = backup.restore(client, path, settings.redis_prefix, pb.update)
        system_log.append(client, Keys(settings.redis_prefix).system_log, "info", "cli",
                          "backup_restored", **result)
    except backup.BackupError as exc:
        return _fail(f"{exc.key}: {exc.detail}")
    except (redis.RedisError, OSError) as exc:
        return _fail(f"Redis error: {exc}", 1)
    finally:
        client.close()
        if embedded is not None:
            embedded.stop()
    print(json.dumps({"success": True, "message": "restored", "data": result},
                     ensure_ascii=False, indent=2))
    return 0
