"""Analytics (seed 5.1–5.4), admin only.

Every endpoint takes ``start_date`` / ``end_date`` (ISO 8601 date or datetime, UTC; a
date alone as the end covers that whole day; default: the last 7 UTC days, today
included; at most 366 days). Message figures come from the hour/day counters written
atomically with each message (never from scanning messages), resolved to whole hours;
session and user figures from their creation-time ZSETs; live figures from the
dispatcher (``GetDispatcherState``) and the IOLoop's connection registry.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.actors.messages import GetDispatcherState
from kefu.domain import UserType, iso, now
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.messages import bounds
from kefu.http.handlers.queries import DateText, absent, parse_query
from kefu.http.openapi import doc
from kefu.persistence.analytics import DAY, MAX_RANGE_DAYS, Analytics, Bucket, default_range


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    start_date: DateText | None = absent()
    end_date: DateText | None = absent()


class CountsOut(BaseModel):
    """Counters of one bucket (an hour, a day or the range)."""

    messages: int
    kefu_messages: int
    kehu_messages: int
    by_type: dict[str, int]
    avg_response_time_seconds: float | None
    responses: int


class DayOut(CountsOut):
    date: str


class HourOut(CountsOut):
    hour: str


class OverviewOut(BaseModel):
    start_date: str
    end_date: str
    total_messages: int
    kefu_messages: int
    kehu_messages: int
    messages_by_type: dict[str, int]
    total_sessions: int
    avg_response_time_seconds: float | None
    messages_today: int
    sessions_today: int
    total_users: int
    total_kefu: int
    online_kefu: int
    online_kehu: int
    waiting_customers: int
    active_sessions: int


class MessageStatsOut(BaseModel):
    start_date: str
    end_date: str
    totals: CountsOut
    daily: list[DayOut]
    hourly: list[HourOut] | None


class UserStatsOut(BaseModel):
    start_date: str
    end_date: str
    total_users: int
    by_type: dict[str, int]
    new_users: int
    new_by_type: dict[str, int]
    kefu_by_status: dict[str, int]
    kefu_online: int
    kehu_online: int
    kehu_active: int
    kehu_waiting: int


class AgentPerfOut(BaseModel):
    kefu_id: str
    name: str
    status: str
    active_sessions: int
    max_sessions: int
    utilization_rate: float
    avg_response_time_seconds: float | None
    responses: int
    satisfaction: float | None
    ratings: int


class PerformanceOut(BaseModel):
    start_date: str
    end_date: str
    avg_response_time_seconds: float | None
    responses: int
    sessions_created: int
    avg_satisfaction: float | None
    rated_sessions: int
    avg_utilization_rate: float | None
    agents: list[AgentPerfOut]


def effective(agent: dict[str, Any]) -> str:
    """An agent's status as customers see it: offline without a live connection."""
    return agent["status"] if agent.get("connections", 0) > 0 else "offline"


class AnalyticsBase(BaseHandler):
    async def prepare_range(self) -> tuple[Analytics, int, int]:
        """Admin check, then the range → (reader, start_s, end_s)."""
        await self.authenticate(UserType.ADMIN)
        q = parse_query(self, RangeQuery)
        lo, hi = bounds(q.start_date, q.end_date)
        end = hi if hi is not None else int(now())
        start = lo if lo is not None else default_range(end)[0]
        if start > end:
            raise ApiError(400, "bad_request", {"start_date": "must not be after end_date"})
        if end - start > MAX_RANGE_DAYS * DAY:
            raise ApiError(400, "bad_request",
                           {"end_date": f"range longer than {MAX_RANGE_DAYS} days"})
        return Analytics(self.state.store), start, end

    async def dispatcher_state(self) -> dict[str, Any]:
        return await self.ask(GetDispatcherState())

    def online_users(self, user_type: str) -> int:
        """Distinct users of one type with a live WebSocket (on any node)."""
        return self.state.online.users_of_type(user_type)

    @staticmethod
    def span(start: int, end: int) -> dict[str, str]:
        return {"start_date": iso(start) or "", "end_date": iso(end) or ""}


class OverviewHandler(AnalyticsBase):
    @doc("Overview: totals over the range and live figures (admin)", query=RangeQuery,
         response=OverviewOut, tag="analytics", errors=(400, 401, 403))
    async def get(self) -> None:
        """5.1 → ``total_messages`` / ``kefu_messages`` / ``kehu_messages`` /
        ``messages_by_type`` / ``avg_response_time_seconds`` (range counters),
        ``total_sessions`` (sessions first opened in the range), ``messages_today`` and
        ``sessions_today`` (UTC day), ``total_users``; live: ``total_kefu``,
        ``online_kefu`` (connected and online), ``online_kehu`` (connected),
        ``waiting_customers`` (queue), ``active_sessions``."""
        reader, start, end = await self.prepare_range()
        t = now()
        today = int(t) - int(t) % DAY

        def read() -> tuple[Bucket, Bucket, int, int, int]:
            series = reader.series(start, end)
            return (series.total, reader.today(t), reader.sessions_created(start, end),
                    reader.sessions_created(today, today + DAY - 1),
                    reader.user_count())

        total, today_b, sessions, sessions_today, users = await self.state.bridge.run_io(read)
        live = await self.dispatcher_state()
        agents = live["agents"].values()
        self.ok("analytics_overview_ok", {
            **self.span(start, end),
            "total_messages": total.messages, "kefu_messages": total.kefu_messages,
            "kehu_messages": total.kehu_messages,
            "messages_by_type": dict(sorted(total.by_type.items())),
            "total_sessions": sessions, "avg_response_time_seconds": total.avg_response,
            "messages_today": today_b.messages, "sessions_today": sessions_today,
            "total_users": users, "total_kefu": len(live["agents"]),
            "online_kefu": sum(1 for a in agents if effective(a) == "online"),
            "online_kehu": self.online_users("kehu"),
            "waiting_customers": len(live["queue"]), "active_sessions": len(live["assignments"]),
        })


class MessageStatsHandler(AnalyticsBase):
    @doc("Message statistics per day and per hour (admin)", query=RangeQuery,
         response=MessageStatsOut, tag="analytics", errors=(400, 401, 403))
    async def get(self) -> None:
        """5.2 → ``totals`` and each ``daily`` entry (``date`` YYYY-MM-DD) and ``hourly``
        entry (``hour`` ISO Z; null for ranges over 31 days) carry ``messages``,
        ``kefu_messages``, ``kehu_messages``, ``by_type`` {content type: count},
        ``avg_response_time_seconds`` (kefu replies to kehu turns) and ``responses``."""
        reader, start, end = await self.prepare_range()
        series = await self.state.bridge.run_io(reader.series, start, end)
        self.ok("analytics_messages_ok", {
            **self.span(start, end), "totals": series.total.view(),
            "daily": [{"date": d, **b.view()} for d, b in series.days],
            "hourly": None if series.hours is None else
            [{"hour": h, **b.view()} for h, b in series.hours],
        })


class UserStatsHandler(AnalyticsBase):
    @doc("User statistics by type, new in range, online now (admin)", query=RangeQuery,
         response=UserStatsOut, tag="analytics", errors=(400, 401, 403))
    async def get(self) -> None:
        """5.3 → ``total_users`` and ``by_type`` {admin, kefu, kehu}; ``new_users`` /
        ``new_by_type`` created in the range; live: ``kefu_by_status`` {online, away,
        busy, offline} (offline without a connection), ``kefu_online``, ``kehu_online``
        (connected), ``kehu_active`` (in an active session), ``kehu_waiting`` (queue)."""
        reader, start, end = await self.prepare_range()
        users = await self.state.bridge.run_io(reader.users, start, end)
        live = await self.dispatcher_state()
        by_status = {s: 0 for s in ("online", "away", "busy", "offline")}
        for a in live["agents"].values():
            by_status[effective(a)] = by_status.get(effective(a), 0) + 1
        types = ("admin", "kefu", "kehu")
        self.ok("analytics_users_ok", {
            **self.span(start, end), "total_users": users["total"],
            "by_type": {t: users["by_type"].get(t, 0) for t in types},
            "new_users": users["new"],
            "new_by_type": {t: users["new_by_type"].get(t, 0) for t in types},
            "kefu_by_status": by_status, "kefu_online": by_status["online"],
            "kehu_online": self.online_users("kehu"),
            "kehu_active": len(live["assignments"]), "kehu_waiting": len(live["queue"]),
        })


class PerformanceHandler(AnalyticsBase):
    @doc("Performance: response times, satisfaction, per-agent figures (admin)",
         query=RangeQuery, response=PerformanceOut, tag="analytics", errors=(400, 401, 403))
    async def get(self) -> None:
        """5.4 → over the range: ``avg_response_time_seconds`` and ``responses`` (kefu
        replies to kehu turns, from the counters), ``sessions_created``,
        ``avg_satisfaction`` / ``rated_sessions`` (ratings of the sessions created in the
        range); live: ``avg_utilization_rate`` (% over online agents) and ``agents``, each
        with ``status``, ``active_sessions``, ``max_sessions``, ``utilization_rate`` (%)
        and its all-time ``avg_response_time_seconds``, ``responses``, ``satisfaction``
        (1..5) and ``ratings``."""
        reader, start, end = await self.prepare_range()

        def read() -> tuple[Bucket, int, tuple[float | None, int], dict[str, Any]]:
            return (reader.series(start, end).total, reader.sessions_created(start, end),
                    reader.satisfaction(start, end), reader.agent_figures())

        total, sessions, (sat, rated), figures = await self.state.bridge.run_io(read)
        live = await self.dispatcher_state()
        agents = []
        for kid, a in sorted(live["agents"].items()):
            f = figures.get(kid, {})
            cap = a["max_sessions"]
            avg = a.get("avg_response")
            agents.append({
                "kefu_id": kid, "name": a.get("name") or kid, "status": effective(a),
                "active_sessions": len(a["active"]), "max_sessions": cap,
                "utilization_rate": round(100 * len(a["active"]) / cap, 1) if cap else 100.0,
                "avg_response_time_seconds": round(avg, 1) if avg is not None else None,
                "responses": int(f.get("rc", 0)),
                "satisfaction": None if a.get("satisfaction") is None else round(a["satisfaction"], 2),
                "ratings": int(f.get("sc", 0))})
        online = [a["utilization_rate"] for a in agents if a["status"] == "online"]
        self.ok("analytics_performance_ok", {
            **self.span(start, end), "avg_response_time_seconds": total.avg_response,
            "responses": total.resp_count, "sessions_created": sessions,
            "avg_satisfaction": sat, "rated_sessions": rated,
            "avg_utilization_rate": round(sum(online) / len(online), 1) if online else None,
            "agents": agents,
        })
