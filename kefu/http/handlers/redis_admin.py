"""Redis administration (seed 7.1–7.3, admin only): an ``INFO`` summary, a flush of the
project's keys only (``{"confirm": "FLUSH"}``, audited) and a ``SCAN`` of keys inside the
prefix. Never ``KEYS``, ``FLUSHDB`` or ``FLUSHALL``; Redis work runs in the executor.
"""

from __future__ import annotations

from typing import Any

from kefu.domain import UserType
from kefu.http.admin_models import FlushBody, FlushOut, KeysOut, KeysQuery, RedisStatusOut
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import parse_query
from kefu.http.openapi import doc
from kefu.persistence import key_scan, redis_admin

MAX_CURSOR = 2**64 - 1
DEFAULT_LIMIT = 100


class RedisStatusHandler(BaseHandler):
    @doc("Redis status: a summary of INFO, our key count and a round trip (seed 7.1)",
         response=RedisStatusOut, tag="redis", errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        data = await self.state.bridge.run_io(redis_admin.status, self.state.store)
        self.ok("redis_status_ok", data)


class RedisFlushHandler(BaseHandler):
    @doc("Delete the project's keys (only those under the prefix; admin accounts, the "
         "maintenance flag and the audit log are kept); body {\"confirm\": \"FLUSH\"} "
         "(seed 7.2)",
         body=FlushBody, response=FlushOut, tag="redis", errors=(400, 401, 403))
    async def post(self) -> None:
        me = await self.authenticate(UserType.ADMIN)
        self.parse(FlushBody)
        rt, store = self.state.rt, self.state.store

        def run() -> dict[str, int]:
            result = redis_admin.flush(store)
            rt.event("warning", "admin", "redis_flush", by=me.id, prefix=store.keys.prefix,
                     **result)
            return result

        result = await self.state.bridge.run_io(run)
        self.state.system.recycle_all()  # actors held what was just deleted
        self.ok("redis_flushed", {**result, "prefix": store.keys.prefix}, **result)


class RedisKeysHandler(BaseHandler):
    @doc("Keys under the prefix matching a glob, with type and TTL, by SCAN cursor "
         "(at most 1000 per call; seed 7.3)", query=KeysQuery, response=KeysOut,
         tag="redis", errors=(400, 401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        q = parse_query(self, KeysQuery)
        prefix = self.state.store.keys.prefix
        try:
            pattern = key_scan.check_pattern(q.pattern, prefix)
        except ValueError as exc:
            raise ApiError(400, "bad_request", {"pattern": str(exc)}) from exc
        cursor = int(q.cursor)
        if cursor > MAX_CURSOR:
            raise ApiError(400, "bad_request", {"cursor": "not a SCAN cursor"})
        limit = q.limit or q.count or DEFAULT_LIMIT
        store = self.state.store

        def run() -> tuple[list[dict[str, Any]], int]:
            return key_scan.keys_page(store.client, prefix, pattern, cursor, limit)

        items, nxt = await self.state.bridge.run_io(run)
        self.ok("redis_keys_ok", {"keys": items, "cursor": str(nxt),
                                  "total_returned": len(items), "pattern": pattern,
                                  "prefix": prefix})
