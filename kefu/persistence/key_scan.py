"""Walking the project's keys with ``SCAN`` — never ``KEYS``, ``FLUSHDB`` or ``FLUSHALL``.

Every pattern sent to Redis starts with the project's prefix, glob-escaped, so a prefix
such as ``k[t]:`` cannot match another application's ``kt:`` keys. Blocking calls: use
them from an executor thread (``bridge.run_io``) or the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import redis

SCAN_COUNT = 1000
UNLINK_BATCH = 500
MAX_PATTERN = 200
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis glob pattern."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def prefix_match(prefix: str, pattern: str = "*") -> str:
    """The MATCH argument for ``pattern`` (a glob) inside ``prefix`` (a literal)."""
    return glob_escape(prefix) + pattern


def check_pattern(pattern: str, prefix: str) -> str:
    """An operator's glob, relative to the prefix; raises ``ValueError`` when it is not one.

    A pattern that already starts with the prefix has it removed (operators paste full
    key names). Control characters, a dangling ``\\`` and unbalanced ``[`` are refused."""
    if pattern.startswith(prefix):
        pattern = pattern[len(prefix):]
    if not pattern:
        return "*"
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"at most {MAX_PATTERN} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        raise ValueError("control characters are not allowed")
    escaped = False
    depth = 0
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            if depth:
                raise ValueError("nested '['")
            depth = 1
        elif ch == "]" and depth:
            depth = 0
    if escaped:
        raise ValueError("ends with an unescaped backslash")
    if depth:
        raise ValueError("unbalanced '['")
    return pattern


def scan_batches(client: redis.Redis, prefix: str, pattern: str = "*",
                 count: int = SCAN_COUNT) -> Iterator[list[Any]]:
    """Every key under ``prefix`` matching ``pattern``, one SCAN reply at a time (a key
    may come twice if the keyspace is resized meanwhile, as SCAN documents)."""
    match = prefix_match(prefix, pattern)
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor, match=match, count=count)
        if keys:
            yield keys
        if int(cursor) == 0:
            return


def count_keys(client: redis.Redis, prefix: str) -> int:
    return sum(len(batch) for batch in scan_batches(client, prefix))


def unlink_keys(client: redis.Redis, prefix: str, keep: frozenset[str] = frozenset()) -> int:
    """UNLINK every key under ``prefix`` except ``keep``; returns how many were removed
    (UNLINK's own count, so a key SCAN returns twice is counted once)."""
    deleted = 0
    for batch in scan_batches(client, prefix):
        names = [k for k in batch if _text(k) not in keep]
        for i in range(0, len(names), UNLINK_BATCH):
            deleted += int(client.unlink(*names[i:i + UNLINK_BATCH]))
    return deleted


def keys_page(client: redis.Redis, prefix: str, pattern: str, cursor: int,
              limit: int, max_calls: int = 100) -> tuple[list[dict[str, Any]], int]:
    """At most ``limit`` keys from ``cursor`` on, with type and TTL, and the next cursor
    (0 when the walk is complete). A reply that would overflow ``limit`` is not taken:
    the same cursor is returned, so the caller gets those keys on the next page."""
    match = prefix_match(prefix, pattern)
    found: list[Any] = []
    seen: set[Any] = set()
    count = min(limit, SCAN_COUNT)
    calls = 0
    while calls < max_calls:
        calls += 1
        nxt, batch = client.scan(cursor, match=match, count=count)
        fresh = [k for k in batch if k not in seen]
        if found and len(found) + len(fresh) > limit:
            break  # resume from ``cursor`` next time
        if not found and len(fresh) > limit and count > 1:
            count = max(1, count // 2)  # a dense stretch: take smaller steps
            continue
        found.extend(fresh)
        seen.update(fresh)
        cursor = int(nxt)
        if cursor == 0 or len(found) >= limit:
            break
    pipe = client.pipeline(transaction=False)
    for key in found:
        pipe.type(key)
        pipe.ttl(key)
    answers = pipe.execute() if found else []
    items = [{"key": _text(key), "type": _text(answers[2 * i]), "ttl": int(answers[2 * i + 1])}
             for i, key in enumerate(found)]
    return [it for it in items if it["type"] != "none"], cursor  # gone since the SCAN


def _text(value: Any) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)
