"""System endpoints: health (6.4) and the supervised actors (list, restart, crash drill)."""

from __future__ import annotations

import time
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from kefu import __version__
from kefu.actors.handles import HandleState
from kefu.actors.messages import Crash, RestartActor
from kefu.domain import UserType, iso, now
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import absent, parse_query
from kefu.http.i18n import text
from kefu.http.openapi import doc
from kefu.persistence.redis import REDIS_ERRORS

# --- queries and replies ------------------------------------------------------------------


class RedisHealth(BaseModel):
    ok: bool
    latency_ms: float | None = Field(default=None, description="round trip (when ok)")
    error: str | None = Field(default=None, description="the exception's name (when not ok)")
    target: str = Field(description="where Redis is: a URL (no password) or "
                                    "sentinel://host:port,…/name")
    primary: str | None = Field(default=None, description="Sentinel: the primary now")
    failovers: int = Field(default=0, description="Sentinel: primary changes seen")
    ack_replicas: int = Field(default=0, description="KEFU_ACK_REPLICAS")
    unconfirmed: int = Field(default=0, description="waits for the replicas that fell "
                                                    "short (those writes were not acked)")


class ActorsHealth(BaseModel):
    total: int
    running: int
    failed: list[str] = Field(description="ids of actors that gave up restarting")
    dispatcher_alive: bool


class ConnectionsHealth(BaseModel):
    connections: int
    users: int


class HealthOut(BaseModel):
    """Anyone gets ``status``, ``maintenance`` and ``timestamp``; the rest is for an
    admin's token only (it tells an attacker the version and the live counts)."""

    status: Literal["healthy", "maintenance", "draining", "unhealthy"]
    maintenance: bool
    maintenance_message: str | None = None  # what customers are told, while it is on
    timestamp: str
    version: str | None = None
    uptime_seconds: int | None = None
    redis: RedisHealth | None = None
    actors: ActorsHealth | None = None
    connections: ConnectionsHealth | None = None


class ActorsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str | None = absent()


class ActorOut(BaseModel):
    actor_id: str = Field(description="kind:id")
    kind: str
    id: str
    state: HandleState
    alive: bool
    mailbox_depth: int
    restarts: int
    last_failure: str | None
    last_failure_at: float | None = Field(description="epoch seconds")


class ActorsOut(BaseModel):
    actors: list[ActorOut]
    total: int


class CrashOut(BaseModel):
    actor_id: str
    injected: bool


class HealthHandler(BaseHandler):
    """Public: load balancers call it without a token. 200 healthy, 503 otherwise."""

    @doc("Health: Redis and the actor system, checked for real (seed 6.4)", roles=(),
         response=HealthOut, tag="system", errors=(503,), data_statuses=(503,),
         description="Public (no token). 200 when healthy (status healthy, or maintenance "
                     "while maintenance mode is on); 503 with the same data and success "
                     "false when Redis or an actor is down. Version, uptime, the Redis "
                     "round trip, actors and connection counts only with an admin token.")
    async def get(self) -> None:
        redis: dict[str, Any]
        started = time.perf_counter()
        try:
            await self.state.bridge.run_io(self.state.store.ping)
            redis = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        except REDIS_ERRORS as exc:
            redis = {"ok": False, "error": type(exc).__name__}
        actors = self.state.system.health()
        healthy = redis["ok"] and not actors["failed"] and actors["dispatcher_alive"]
        maintenance = self.state.maintenance.enabled  # healthy in maintenance: still 200
        status = ("maintenance" if maintenance else "healthy") if healthy else "unhealthy"
        if healthy and self.state.closing and self.state.cluster is not None:
            healthy, status = False, "draining"  # the load balancer sends no one new
        data: dict[str, Any] = {"status": status, "maintenance": maintenance,
                                "timestamp": iso(now())}
        if maintenance:
            data["maintenance_message"] = self.state.maintenance.text
        if await self.is_admin():
            store, watch = self.state.store, self.state.primary_watch
            redis.update(target=store.target.describe(), ack_replicas=store.ack_replicas,
                         unconfirmed=store.unconfirmed)
            if watch is not None and store.target.uses_sentinel:
                redis.update(primary=watch.current, failovers=watch.failovers)
            data.update({
                "version": __version__,
                "uptime_seconds": int(now() - self.state.rt.started_at),
                "redis": redis,
                "actors": actors,
                "connections": self.state.hub.stats(),
            })
        if not healthy:
            self.set_status(503)
        self.finish(orjson.dumps({
            "success": healthy, "message": text(
                {"healthy": "health_ok", "maintenance": "health_maintenance",
                 "draining": "health_draining"}.get(
                    status, "health_bad"), self.english),
            "data": data}))


    async def is_admin(self) -> bool:
        """Does the request carry an admin's token? (A bad token is simply not one.)"""
        token = self.bearer()
        if token is None:
            return False
        try:
            user = await self.state.bridge.run_io(self.state.users.resolve_token, token)
        except REDIS_ERRORS:
            return False
        return user is not None and user.user_type is UserType.ADMIN


class ActorsHandler(BaseHandler):
    @doc("The supervised actors, by id (admin)", query=ActorsQuery, response=ActorsOut,
         tag="system", errors=(400, 401, 403),
         description="kind filters by actor kind: dispatcher, session or agent.")
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        kind = parse_query(self, ActorsQuery).kind
        actors = self.state.system.describe(kind)
        self.ok("actors_ok", {"actors": actors, "total": len(actors)})


class ActorRestartHandler(BaseHandler):
    @doc("Restart one actor (admin)", response=ActorOut, path_params=("actor_id",),
         tag="system", errors=(401, 403, 404))
    async def post(self, actor_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        if self.state.rt.registry.find(actor_id) is None:
            raise ApiError(404, "actor_not_found")
        self.ok("actor_restarted", await self.ask(RestartActor(actor_id=actor_id),
                                                  self.state.rt.supervisor))


class ActorCrashHandler(BaseHandler):
    """Fault injection for drills; exists only with ``KEFU_FAULT_INJECTION=1``."""

    @doc("Crash one actor, for drills (admin; only with KEFU_FAULT_INJECTION=1)",
         response=CrashOut, path_params=("actor_id",), tag="system", errors=(401, 403, 404))
    async def post(self, actor_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        handle = self.state.rt.registry.find(actor_id)
        if handle is None:
            raise ApiError(404, "actor_not_found")
        handle.tell(Crash())
        self.ok("ok", {"actor_id": actor_id, "injected": True})
