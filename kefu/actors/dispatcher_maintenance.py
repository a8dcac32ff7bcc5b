"""Maintenance mode in the dispatcher (SPEC §7): new kehu are told the operator's message
and not queued; kehu already in a session or in the queue carry on untouched.

A mixin of :class:`kefu.actors.dispatcher.Dispatcher`; everything here runs on the
dispatcher's thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kefu.actors.messages import Accepted, Rejected, SetMaintenance
from kefu.actors.runtime import frame
from kefu.domain import now
from kefu.persistence import maintenance as stored
from kefu.persistence.maintenance import Maintenance
from kefu.persistence.redis import REDIS_ERRORS

if TYPE_CHECKING:
    from kefu.actors.runtime import Runtime


class MaintenanceOps:
    rt: Runtime
    maintenance: Maintenance

    def load_maintenance(self) -> None:
        """Read the flag from Redis (from ``load``: start and every restart)."""
        self.maintenance = stored.load(self.rt.store)

    def refuse_new_kehu(self, conn_id: int | None, ref: str | None) -> Rejected:
        """A kehu with neither a session nor a queue place, while maintenance is on."""
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, frame("error", code="maintenance",
                                                  message=self.maintenance.text, ref=ref))
        return Rejected(status=503, reason="maintenance",
                        params={"message": self.maintenance.text,
                                "message_en": self.maintenance.text})

    def _handle_maintenance(self, msg: SetMaintenance) -> Any:
        since = msg.since if msg.since is not None else now()
        if msg.enabled and self.maintenance.enabled and self.maintenance.since is not None:
            since = self.maintenance.since  # a new message does not restart the clock
        m = Maintenance(enabled=msg.enabled, message=msg.message,
                        since=since if msg.enabled else None, by=msg.by)
        try:
            stored.save(self.rt.store, m)
        except REDIS_ERRORS:
            return Rejected(status=503, reason="storage_unavailable")
        changed = m.enabled != self.maintenance.enabled
        self.maintenance = m
        if changed:
            self.rt.event("warning" if m.enabled else "info", "dispatcher:main",
                          "maintenance_on" if m.enabled else "maintenance_off",
                          by=m.by, message=m.message)
        return Accepted(data=m.as_dict())
