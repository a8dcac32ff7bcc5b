"""System administration (seed 6.1–6.3, admin only): the structured log, backups (create,
list, download) and maintenance mode. Redis work runs in the executor, never on the loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kefu.actors.messages import SetMaintenance
from kefu.domain import UserType, parse_iso
from kefu.http.admin_models import (
    BackupListOut,
    BackupOut,
    LogsOut,
    LogsQuery,
    MaintenanceBody,
    MaintenanceOut,
)
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import parse_query
from kefu.http.openapi import doc
from kefu.persistence import backup, system_log
from kefu.persistence import maintenance as stored

CHUNK = 64 * 1024


class LogsHandler(BaseHandler):
    @doc("System log: structured events, newest first (seed 6.1)", query=LogsQuery,
         response=LogsOut, tag="system", errors=(400, 401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        q = parse_query(self, LogsQuery)
        since = None
        if q.since is not None:
            try:
                since = parse_iso(q.since)
            except (ValueError, OverflowError) as exc:
                raise ApiError(400, "bad_request",
                               {"since": "must be an ISO 8601 datetime"}) from exc
        store = self.state.store

        def read() -> tuple[list[dict[str, Any]], bool]:
            return system_log.read(store.client, store.keys.system_log, level=q.level,
                                   since=since, limit=q.limit)

        logs, more = await self.state.bridge.run_io(read)
        self.ok("logs_ok", {"logs": logs, "total": len(logs), "has_more": more})


def backup_error(exc: backup.BackupError) -> ApiError:
    details = {"backup": exc.detail} if exc.detail else None
    return ApiError(exc.status, exc.key, details)


class BackupHandler(BaseHandler):
    @doc("Back up every key under the prefix into KEFU_DATA_DIR/backups/ (seed 6.2)",
         response=BackupOut, tag="system", errors=(401, 403, 409))
    async def post(self) -> None:
        me = await self.authenticate(UserType.ADMIN)
        store, rt = self.state.store, self.state.rt
        target = self.state.settings.backups_dir

        def run() -> dict[str, Any]:
            client = backup.raw_client(store)
            try:
                return backup.create(client, store.keys.prefix, target)
            finally:
                client.close()
                client.connection_pool.disconnect()

        try:
            info = await self.state.bridge.run_io(run)
        except backup.BackupError as exc:
            raise backup_error(exc) from exc
        # after the pause: this entry is the first write the backup does not contain
        await self.state.bridge.run_io(lambda: rt.event(
            "info" if info["consistent"] else "warning", "admin", "backup_created",
            by=me.id, name=info["name"], key_count=info["key_count"],
            size_bytes=info["size_bytes"], consistent=info["consistent"]))
        self.ok("backup_ok", info)


class BackupListHandler(BaseHandler):
    @doc("The backup files, newest first", response=BackupListOut, tag="system",
         errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        found = await self.state.bridge.run_io(backup.list_backups,
                                               self.state.settings.backups_dir)
        self.ok("backups_ok", {"backups": found, "total": len(found)})


class BackupDownloadHandler(BaseHandler):
    @doc("Download one backup file (an attachment)", path_params=("name",), tag="system",
         content_type="application/gzip", errors=(400, 401, 403, 404))
    async def get(self, name: str) -> None:
        await self.authenticate(UserType.ADMIN)
        try:
            path: Path = backup.backup_file(self.state.settings.backups_dir, name)
        except backup.BackupError as exc:
            raise backup_error(exc) from exc
        fh = await self.state.bridge.run_io(open, path, "rb")
        try:
            size = path.stat().st_size
            self.set_header("Content-Type", "application/gzip")
            self.set_header("Content-Disposition", f'attachment; filename="{path.name}"')
            self.set_header("Content-Length", str(size))
            while True:
                chunk = await self.state.bridge.run_io(fh.read, CHUNK)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
        finally:
            fh.close()
        self.finish()


class MaintenanceHandler(BaseHandler):
    @doc("Read maintenance mode (seed 6.3)", response=MaintenanceOut, tag="system",
         errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        m = await self.state.bridge.run_io(stored.load, self.state.store)
        self.ok("maintenance_ok", m.as_dict())

    @doc("Turn maintenance mode on or off (seed 6.3): new kehu are refused with the "
         "message, non-admin writes get 503, live sessions continue", body=MaintenanceBody,
         response=MaintenanceOut, tag="system", errors=(400, 401, 403))
    async def put(self) -> None:
        me = await self.authenticate(UserType.ADMIN)
        body = self.parse(MaintenanceBody)
        data = await self.ask(SetMaintenance(enabled=body.enabled,
                                             message=body.message or "", by=me.id))
        # the dispatcher has stored it: the HTTP layer's copy follows (every node's)
        self.state.maintenance = await self.state.bridge.run_io(stored.load, self.state.store)
        if self.state.cluster is not None and self.state.cluster.outbox is not None:
            self.state.cluster.outbox.control({"what": "maintenance"})
        self.ok("maintenance_on" if body.enabled else "maintenance_off", data)
