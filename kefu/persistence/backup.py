"""Logical backup and restore of every key under the project's prefix (seed 6.2).

File format (gzip'd NDJSON, two gzip members, read as one stream)::

    {"format": "kefu-backup", "version": 1, "prefix", "created_at", "key_count",
     "consistent", "mode", "redis_version"}
    {"key", "type", "ttl_ms", "expire_at_ms", "dump"}      one line per key, dump = base64

Consistency: the dump runs inside ``CLIENT PAUSE <window> WRITE``. Redis keeps serving
reads (``SCAN``, ``DUMP``, ``PTTL``) while every write — commands, MULTI/EXEC, Lua
scripts — waits, and keys do not expire, so the file is one point in time. The window
(4 s) is below the server's Redis socket timeout (5 s): a paused writer waits, it never
fails. A dump that does not finish inside the window is discarded (``backup_too_slow``),
never written half-consistent. Where ``CLIENT PAUSE`` is refused (a managed Redis), the
dump runs live and says so: ``"consistent": false``. See docs/operations.md.

Blocking: run from an executor thread or the CLI. Binary clients only (``DUMP``).
"""

from __future__ import annotations

import base64
import gzip
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis

from kefu.persistence.key_scan import scan_batches, unlink_keys
from kefu.persistence.redis import Store

FORMAT = "kefu-backup"
VERSION = 1
PAUSE_MS = 4000
DUMP_BATCH = 500
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.ndjson\.gz$")
_LOCK = threading.Lock()  # one backup at a time per process


class BackupError(Exception):
    """A refusal: HTTP ``status`` and an i18n ``key``; ``detail`` for operators."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.status, self.key, self.detail = status, key, detail


def raw_client(store: Store) -> redis.Redis:
    """A bytes client on the same server and database as ``store`` (DUMP is binary)."""
    return store.target.client(decode_responses=False, socket_timeout=5,
                               socket_connect_timeout=1)


def _private(path: Path) -> Any:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- dump ---------------------------------------------------------------------------


# The first byte of a DUMP payload is the RDB object type: the key's type, for free.
_RDB_TYPES = {0: "string", 1: "list", 10: "list", 14: "list", 18: "list", 2: "set",
              11: "set", 20: "set", 3: "zset", 5: "zset", 12: "zset", 17: "zset",
              4: "hash", 9: "hash", 13: "hash", 16: "hash", 22: "hash", 23: "hash",
              24: "hash", 25: "hash", 15: "stream", 19: "stream", 21: "stream",
              6: "module", 7: "module"}


_PTTL_DUMP = b"*2\r\n$4\r\nPTTL\r\n$%d\r\n%s\r\n*2\r\n$4\r\nDUMP\r\n$%d\r\n%s\r\n"
_TIME = b"*1\r\n$4\r\nTIME\r\n"


def _fetch(conn: Any, keys: list[bytes]) -> tuple[list[Any], int]:
    """PTTL and DUMP of each key, then TIME, in one pipelined round trip.

    Raw RESP on one connection: redis-py's pipeline costs ~10 µs a command in Python,
    which would cap what fits in the pause window several times lower."""
    conn.send_packed_command([b"".join([_PTTL_DUMP % (len(k), k, len(k), k) for k in keys])
                              + _TIME])
    replies = [conn.read_response() for _ in range(2 * len(keys))]
    secs, micros = conn.read_response()
    return replies, int(secs) * 1000 + int(micros) // 1000


def _dump_keys(client: redis.Redis, prefix: str, out: Any, started: float,
               window: float | None) -> int:
    """Write one line per key; checks the pause window after every batch read."""
    seen: set[bytes] = set()
    count = 0
    conn = client.connection_pool.get_connection()
    try:
        for batch in scan_batches(client, prefix):
            fresh = [k for k in batch if k not in seen]
            seen.update(fresh)
            for i in range(0, len(fresh), DUMP_BATCH):
                chunk = fresh[i:i + DUMP_BATCH]
                replies, now_ms = _fetch(conn, chunk)
                lines = []
                for j, key in enumerate(chunk):
                    ttl, blob = int(replies[2 * j]), replies[2 * j + 1]
                    if blob is None:
                        continue  # expired or deleted since the SCAN (only when not paused)
                    lines.append(orjson.dumps({
                        "key": key.decode(), "type": _RDB_TYPES.get(blob[0], "unknown"),
                        "ttl_ms": ttl, "expire_at_ms": now_ms + ttl if ttl >= 0 else None,
                        "dump": base64.b64encode(blob).decode()}))
                if lines:
                    out.write(b"\n".join(lines) + b"\n")
                    count += len(lines)
                _check_window(started, window)
        _check_window(started, window)
    except BaseException:
        conn.disconnect()  # replies may be left unread on it
        raise
    finally:
        client.connection_pool.release(conn)
    return count


def _check_window(started: float, window: float | None) -> None:
    if window is not None and time.monotonic() - started >= window:
        raise BackupError(503, "backup_too_slow",
                          f"the dump did not finish inside the {window:.1f} s write pause")


def create(client: redis.Redis, prefix: str, backups_dir: Path,
           pause_ms: int = PAUSE_MS) -> dict[str, Any]:
    """Write a backup file into ``backups_dir``; returns its description.

    Raises :class:`BackupError` (409 while another backup runs, 503 when too slow)."""
    if not _LOCK.acquire(blocking=False):
        raise BackupError(409, "backup_in_progress")
    try:
        backups_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        version = client.info("server").get("redis_version")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"kefu-backup-{stamp}-{secrets.token_hex(3)}.ndjson.gz"
        body, final = backups_dir / f".{name}.body", backups_dir / f".{name}.tmp"
        try:
            secs, micros = client.time()
            created_ms = int(secs) * 1000 + int(micros) // 1000
            started = time.monotonic()
            try:
                client.client_pause(pause_ms, all=False)
                window: float | None = pause_ms / 1000
            except redis.ResponseError:  # CLIENT PAUSE refused (ACL, old or managed Redis)
                window = None
            try:
                with _private(body) as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                                          compresslevel=1) as gz:
                    count = _dump_keys(client, prefix, gz, started, window)
            finally:
                if window is not None:
                    client.client_unpause()
            header = {"format": FORMAT, "version": VERSION, "prefix": prefix,
                      "created_at": _iso(created_ms), "created_at_ms": created_ms,
                      "key_count": count, "consistent": window is not None,
                      "mode": "client_pause" if window is not None else "live",
                      "redis_version": version}
            with _private(final) as out:
                out.write(gzip.compress(orjson.dumps(header) + b"\n"))
                with open(body, "rb") as src:
                    shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(final, backups_dir / name)
        finally:
            body.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
        return describe(backups_dir / name, header)
    finally:
        _LOCK.release()


# --- files --------------------------------------------------------------------------


def read_header(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rb") as fh:
        header = orjson.loads(fh.readline())
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(400, "backup_invalid", f"{path.name}: not a kefu backup")
    return header


def describe(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    return {"name": path.name, "size_bytes": path.stat().st_size,
            "key_count": header.get("key_count"), "created_at": header.get("created_at"),
            "consistent": header.get("consistent"), "prefix": header.get("prefix"),
            "path": str(path.resolve())}


def list_backups(backups_dir: Path) -> list[dict[str, Any]]:
    """Every backup file, newest first (a file that cannot be read shows no key count)."""
    out = []
    for path in backups_dir.glob("*.ndjson.gz") if backups_dir.is_dir() else []:
        try:
            out.append(describe(path, read_header(path)))
        except (OSError, ValueError, EOFError, BackupError):
            out.append({"name": path.name, "size_bytes": path.stat().st_size,
                        "key_count": None, "created_at": _iso(int(path.stat().st_mtime * 1000)),
                        "consistent": None, "prefix": None, "path": str(path.resolve())})
    out.sort(key=lambda b: (b["created_at"] or "", b["name"]), reverse=True)
    return out


def backup_file(backups_dir: Path, name: str) -> Path:
    """The file called ``name`` in ``backups_dir``: 400 for a path, 404 if absent."""
    if "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise BackupError(400, "bad_backup_name")
    path = backups_dir / name
    if not NAME_RE.match(name) or not path.is_file():
        raise BackupError(404, "backup_not_found")
    return path


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """The key lines of a backup (after its header)."""
    with gzip.open(path, "rb") as fh:
        fh.readline()
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


# --- restore ------------------------------------------------------------------------


def verify(path: Path, prefix: str) -> dict[str, Any]:
    """Read the whole file before anything is deleted; its header when it is sound."""
    try:
        header = read_header(path)
        if header.get("version") != VERSION:
            raise BackupError(400, "backup_invalid", f"unknown version {header.get('version')}")
        if header.get("prefix") != prefix:
            raise BackupError(400, "backup_invalid", f"the backup is of prefix "
                              f"{header.get('prefix')!r}, this server uses {prefix!r} "
                              "(set KEFU_REDIS_PREFIX)")
        count = 0
        for e in entries(path):
            if not str(e["key"]).startswith(prefix):
                raise BackupError(400, "backup_invalid", f"key outside the prefix: {e['key']}")
            base64.b64decode(e["dump"], validate=True)
            count += 1
    except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise BackupError(400, "backup_invalid", f"{path.name}: {exc}") from exc
    if count != header.get("key_count"):
        raise BackupError(400, "backup_invalid",
                          f"{count} keys in the file, the header says {header.get('key_count')}")
    return header


def restore(client: redis.Redis, path: Path, prefix: str,
            on_entries: Callable[[int], object] | None = None) -> dict[str, Any]:
    """Replace every key under ``prefix`` with the backup's (RESTORE … REPLACE, with each
    key's absolute expiry; keys whose expiry has passed are skipped). Not atomic: run it
    with the kefu server stopped; running it again finishes an interrupted restore.
    ``on_entries(n)``: told after each batch how many entries it handled (a progress bar)."""
    header = verify(path, prefix)
    deleted = unlink_keys(client, prefix)
    secs, micros = client.time()
    now_ms = int(secs) * 1000 + int(micros) // 1000
    restored = expired = reported = 0
    pipe = client.pipeline(transaction=False)
    for e in entries(path):
        at = e.get("expire_at_ms")
        if at is not None and at <= now_ms:
            expired += 1
            continue
        pipe.restore(e["key"], at or 0, base64.b64decode(e["dump"]), replace=True,
                     absttl=at is not None)
        restored += 1
        if len(pipe) >= DUMP_BATCH:
            pipe.execute()
            if on_entries is not None:
                on_entries(restored + expired - reported)
                reported = restored + expired
    pipe.execute()
    if on_entries is not None:
        on_entries(restored + expired - reported)
    return {"name": path.name, "key_count": header["key_count"], "restored": restored,
            "expired": expired, "deleted": deleted, "created_at": header.get("created_at")}
