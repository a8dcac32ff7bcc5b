"""What the dispatcher pushes so that nobody polls (issue 14, item 6): a part of the
dispatcher (its thread only).

Each online agent's ``waiting`` list (the customers it could take), the dashboards'
whole queue and ``workload`` (every agent's load, the queue per team, offers out, active
sessions) — each sent only when it changed, at most once a tick; and the time-driven
notices: a customer past its team's overflow time reaches more agents (their lists change),
one past its team's ``max_wait_seconds`` is told, once, it may leave a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kefu import metrics, protocol
from kefu.actors.assigner import Assigner
from kefu.actors.routing import QueueEntry
from kefu.actors.runtime import Runtime
from kefu.actors.waiting_queue import PUSHED


@dataclass
class LiveViews:
    rt: Runtime
    desk: Assigner
    watchers: set[str] = field(default_factory=set)  # admins with a socket open
    waiting_pushed: int = -1  # the queue version last pushed
    workload_sent: bytes = b""  # the workload frame last pushed
    overflowed: set[str] = field(default_factory=set)  # kehu past their overflow time
    told_max_wait: set[str] = field(default_factory=set)  # … told they may leave a message
    gauge_mark: tuple[int, int] | None = None  # (queue version, team book) last published

    def watcher(self, user_id: str, online: bool) -> None:
        """An admin's dashboard opened (it gets everything at the next tick) or closed."""
        if online:
            self.watchers.add(user_id)
            self.workload_sent, self.waiting_pushed = b"", -1
        else:
            self.watchers.discard(user_id)

    def note_waits(self, at: float) -> None:
        queue, book = self.desk.queue, self.desk.book
        over = {e.kehu_id for e in queue.entries.values()
                if book.overflowed(e.team, at - e.waiting_since)}
        if over - self.overflowed:  # they reach more agents: the lists change
            queue.version += 1
            queue.dirty = True
        self.overflowed = over
        for entry in queue.entries.values():
            if (entry.kehu_id not in self.told_max_wait
                    and book.waited_too_long(entry.team, at - entry.waiting_since)):
                self.told_max_wait.add(entry.kehu_id)
                self.rt.outbox.to_users([entry.kehu_id], protocol.leave_message(
                    entry.team, "max_wait", True))
        self.told_max_wait &= set(queue.entries)

    def rows(self, at: float) -> list[tuple[dict[str, Any], QueueEntry]]:
        """The queue in order, each entry with its row of the list (sorted once)."""
        queue = self.desk.queue
        ordered = queue.ordered()
        return list(zip(queue.waiting_view(at, ordered)["waiting_customers"], ordered,
                        strict=True))

    def waiting_for(self, kefu_id: str, at: float,
                    rows: list[tuple[dict[str, Any], QueueEntry]] | None = None
                    ) -> dict[str, Any]:
        """The waiting list as ``kefu_id``'s console shows it: the customers it could
        take (its teams', those without a team, those overflowed to it)."""
        book = self.desk.book
        shown = [row for row, e in (rows if rows is not None else self.rows(at))
                 if book.sees(kefu_id, e.team, at - e.waiting_since)]
        return {"waiting_customers": shown[:PUSHED], "total": len(shown)}

    def push_waiting(self, at: float) -> None:
        """The queue changed since the last push: to every online agent its list (agents
        in the same teams share one frame), to the dashboards the whole queue."""
        queue = self.desk.queue
        if queue.version == self.waiting_pushed:
            return
        self.waiting_pushed = queue.version
        rows = self.rows(at)
        if self.watchers:
            everyone = [row for row, _ in rows]
            self.rt.outbox.to_users(sorted(self.watchers), protocol.waiting(
                {"waiting_customers": everyone[:PUSHED], "total": len(everyone)}))
        book = self.desk.book
        groups: dict[frozenset[str], list[str]] = {}
        for slot in self.desk.seats.agents.values():
            if slot.connections > 0:
                groups.setdefault(frozenset(book.teams_of(slot.kefu_id)), []).append(
                    slot.kefu_id)
        for agents in groups.values():
            self.rt.outbox.to_users(agents, protocol.waiting(
                self.waiting_for(agents[0], at, rows)))

    def push_workload(self) -> None:
        """Agents' loads, the queue per team, offers and sessions changed since the last
        push: to the dashboards and the online agents."""
        desk = self.desk
        by_team: dict[str, int] = {}
        for entry in desk.queue.entries.values():
            by_team[entry.team or ""] = by_team.get(entry.team or "", 0) + 1
        agents = desk.seats.workload_view()
        frame = protocol.workload(agents, {"total": len(desk.queue), "by_team": by_team},
                                  len(desk.offering.out), len(desk.assignments))
        if frame == self.workload_sent:
            return
        self.workload_sent = frame
        online = [a["kefu_id"] for a in agents if a["status"] != "offline"]
        if self.watchers or online:
            self.rt.outbox.to_users([*self.watchers, *online], frame)

    def publish_queue_length(self) -> None:
        """``kefu_queue_length`` per team, when the queue or the teams changed since the
        last tick (a reload makes new views: published again)."""
        mark = (self.desk.queue.version, id(self.desk.book))
        if mark != self.gauge_mark:
            self.gauge_mark = mark
            metrics.publish_queue([e.team for e in self.desk.queue.entries.values()],
                                  set(self.desk.book.teams))

