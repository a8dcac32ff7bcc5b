"""Maintenance mode (SPEC §7): a part of the dispatcher (its thread only).

While it is on, a kehu with neither a session nor a place in the queue is told the
operator's message (an ``error`` frame, code ``maintenance``) and not queued; kehu already
in a session or in the queue carry on untouched. The flag lives in Redis
(``persistence/maintenance.py``); this part is its single writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kefu import protocol
from kefu.actors.messages import Accepted, Rejected, SetMaintenance
from kefu.actors.runtime import Runtime
from kefu.domain import now
from kefu.persistence import maintenance as flag_store
from kefu.persistence.maintenance import Maintenance
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason


@dataclass
class MaintenanceSwitch:
    flag: Maintenance = field(default_factory=Maintenance)

    @property
    def on(self) -> bool:
        return self.flag.enabled

    def refuse(self, rt: Runtime, conn_id: int | None, ref: str | None) -> Rejected:
        """A new kehu while maintenance is on: told, and refused."""
        if conn_id is not None:
            rt.outbox.to_conn(conn_id, protocol.error(RejectReason.MAINTENANCE, ref,
                                                      message=self.flag.text))
        return Rejected(reason=RejectReason.MAINTENANCE,
                        params={"message": self.flag.text, "message_en": self.flag.text})

    def set(self, rt: Runtime, msg: SetMaintenance) -> Accepted | Rejected:
        """Store the new flag, then use it; an event when it flips."""
        since = msg.since if msg.since is not None else now()
        if msg.enabled and self.flag.enabled and self.flag.since is not None:
            since = self.flag.since  # a new message does not restart the clock
        new = Maintenance(enabled=msg.enabled, message=msg.message,
                          since=since if msg.enabled else None, by=msg.by)
        try:
            flag_store.save(rt.store, new)
        except REDIS_ERRORS:
            return Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
        changed = new.enabled != self.flag.enabled
        self.flag = new
        if changed:
            rt.event("warning" if new.enabled else "info", "dispatcher:main",
                     "maintenance_on" if new.enabled else "maintenance_off",
                     by=new.by, message=new.message)
        return Accepted(data=new.as_dict())
