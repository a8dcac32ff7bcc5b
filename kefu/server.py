"""Start-up and shut-down, side by side (the later a part starts, the earlier it stops).

Start: data dir (0700) → embedded Redis → store → bootstrap admin → append log and actors
(restored from Redis; ``assembly.py``) → the Redis watcher (embedded) or the primary watch
(Sentinel) → HTTP port → guest sweeper →
ticker. Stop (SIGTERM/SIGINT), the exit stack in reverse: ticker, sweeper, then the
sockets (refuse new ones, ``server_closing`` to every client, close with 1001), the
bridge, the actors (sessions and agents, dispatcher, supervisor) and the append log, the
store, Redis. Exit 0, or 1 when the embedded Redis died and could not be started again.

Cluster mode (``KEFU_CLUSTER=1``, docs/cluster.md) adds the node (``cluster/node.py``)
after the actors — it takes its shards before the port opens — and, on SIGTERM, a drain
before anything else stops: health answers 503 ``draining`` and every shard is handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import json
import logging
import os
import resource
import secrets
import signal
import sys
import time
from contextlib import AsyncExitStack

from redis.sentinel import MasterNotFoundError
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback

from kefu import log_format, protocol
from kefu.actors.runtime import Outbox, Runtime
from kefu.actors.system import ActorSystem
from kefu.assembly import actor_system
from kefu.cluster.node import ClusterNode
from kefu.config import Settings
from kefu.domain import UserType, iso, now
from kefu.http.app import make_app
from kefu.http.bridge import Bridge
from kefu.http.connections import Hub
from kefu.http.housekeeping import GuestSweeper
from kefu.http.http_limits import http_server
from kefu.http.online import Online
from kefu.http.retention_task import RetentionPurger
from kefu.http.state import AppState
from kefu.persistence.embedded import EmbeddedRedis
from kefu.persistence.history import History
from kefu.persistence.maintenance import load as load_maintenance
from kefu.persistence.redis import REDIS_ERRORS, Store
from kefu.persistence.redis_target import PrimaryWatch, RedisTarget
from kefu.persistence.users import UserStore
from kefu.protocol import CloseCode
from kefu.uploads.service import start_uploads
from kefu.webhooks.delivery import WebhookWorker

log = logging.getLogger("kefu")


def tune_process(settings: Settings) -> None:
    """Raise the fd limit, ask for the global futex hash (Linux ≥ 6.16; see DESIGN) and
    set the GIL switch interval, as configured."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if settings.futex_global_hash:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(78, 1, 0, 0, 0)  # PR_FUTEX_HASH, SET_SLOTS, 0 = global; EINVAL ignored
    if settings.switch_interval is not None:
        sys.setswitchinterval(settings.switch_interval)
    # A full (gen2) collection walks every live object: at 10,000 sockets one took
    # 0.5-0.9 s, every few seconds while sockets were arriving, freeing nothing. Young
    # collections stay frequent; full ones become ~100x rarer (docs/benchmarks.md).
    gc.set_threshold(10_000, 50, 1_000)


def bootstrap_admin(settings: Settings, users: UserStore) -> None:
    """Create the ``admin`` user on first start and print its credentials once."""
    if users.get("admin") is not None:
        if settings.admin_password:
            users.set_fields("admin", **users.password_fields(settings.admin_password))
        return
    password = settings.admin_password or secrets.token_urlsafe(12)
    if users.create(name="管理员", user_type=UserType.ADMIN, user_id="admin",
                    password=password) is None:
        return  # another node of the cluster created it first (and printed its password)
    path = settings.credentials_file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"user_id": "admin", "password": password}, fh)
    if not settings.admin_password:
        log_format.announce(f"kefu: bootstrap admin created — user_id: admin  password: "
                            f"{password}\nkefu: (also written to {path}, mode 0600)")


async def serve(settings: Settings) -> int:
    """Run the server until SIGTERM/SIGINT. Returns the exit code. The IOLoop's thread."""
    tune_process(settings)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)  # chat history and credentials live under it
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    exit_code = 0

    def on_signal(_signum: int, _frame: object) -> None:
        # A plain handler, not loop.add_signal_handler: under load the loop's self-pipe
        # can be full, and asyncio then loses the signal byte (seen: SIGTERM ignored).
        loop.call_soon_threadsafe(stop_event.set)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    def give_up() -> None:  # the Redis watcher's thread: Redis cannot be started again
        nonlocal exit_code
        exit_code = 1
        loop.call_soon_threadsafe(stop_event.set)

    async with AsyncExitStack() as stack:
        embedded = None
        target = RedisTarget.configured(settings)
        if target is None:
            embedded = EmbeddedRedis(settings.redis_dir, appendfsync=settings.redis_appendfsync)
            target = RedisTarget(url=embedded.start())
            stack.callback(embedded.stop)
        store = Store(target, settings.redis_prefix, settings.ack_replicas,
                      settings.ack_replicas_timeout_ms)
        stack.callback(store.close)
        if not await reach_redis(store, settings.redis_startup_wait_seconds):
            return 1
        users = UserStore(store, settings.token_ttl_seconds, settings.scrypt_n)
        bootstrap_admin(settings, users)

        node: ClusterNode | None = None
        if settings.cluster:
            node = ClusterNode(settings, store)
            hub = Hub(IOLoop.current(), node.conn_id_base, node.count_changed)
            outbox: Outbox = node.outbox_for(hub)
        else:
            hub = outbox = Hub(IOLoop.current())
        rt, system = stack.enter_context(actor_system(settings, store, users, outbox, node))
        if node is not None:
            node.start()
            stack.callback(node.stop)
        if embedded is not None:
            embedded.supervise(lambda level, event, fields: rt.event(level, "redis", event,
                                                                     **fields),
                               give_up, settings.redis_restart_tries)
        watch = PrimaryWatch(target, functools.partial(after_failover, rt, system, hub))
        watch.start()
        stack.callback(watch.stop)
        gc.freeze()  # what start-up restored lives as long as the process: never rescan it
        bridge = Bridge(settings.ask_timeout)
        stack.callback(bridge.close)
        uploads = await start_uploads(settings, store)  # issue 15: the dir or the bucket
        if uploads is None:
            return 1
        stack.callback(uploads.close)
        state = AppState(settings=settings, store=store, users=users, history=History(store),
                         bridge=bridge, hub=hub, rt=rt, system=system,
                         online=Online(hub, node.node if node is not None else ""),
                         cluster=node, primary_watch=watch, uploads=uploads,
                         maintenance=load_maintenance(store))  # before the port opens
        if node is not None:
            watch_cluster(state, node)

        server = http_server(make_app(state), settings)
        server.listen(settings.port, settings.host)
        stack.push_async_callback(close_sockets, state, server)
        sweeper = GuestSweeper(state)
        sweeper.start()
        stack.callback(sweeper.stop)
        purger = RetentionPurger(state)  # KEFU_RETENTION_DAYS (docs/data-rights.md)
        purger.start()
        stack.callback(purger.stop)
        ticker = Ticker(system, settings)
        ticker.start()
        stack.callback(ticker.stop)
        # webhooks (issue 16): outbound deliveries
        hooks = WebhookWorker(state.settings, state.store, state.bridge.run_io, state.rt.event)
        hooks.start()
        stack.push_async_callback(hooks.stop)
        if node is not None:
            stack.push_async_callback(drain, state, node)
        rt.event("info", "server", "started", host=settings.host, port=settings.port,
                 node=rt.node, redis=target.describe(), ack_replicas=settings.ack_replicas)
        log_format.announce(f"kefu: listening on http://{settings.host}:{settings.port}")

        await stop_event.wait()
        log_format.announce("kefu: shutting down")
        state.closing = True
        stack.callback(lambda: rt.event("info", "server", "stopped", exit_code=exit_code))
    return exit_code


async def reach_redis(store: Store, seconds: float) -> bool:
    """At start-up (the IOLoop's thread, before anything else runs): wait up to ``seconds``
    for Redis to answer (a Sentinel may be in the middle of a failover); else one clear
    line, and the caller exits 1 for its supervisor to try again."""
    deadline = time.monotonic() + seconds
    loop = asyncio.get_running_loop()
    while True:
        try:
            await loop.run_in_executor(None, store.ping)
            return True
        except REDIS_ERRORS as exc:
            if time.monotonic() > deadline:
                why = (f"no sentinel names a primary {store.target.master!r}"
                       if isinstance(exc, MasterNotFoundError) else
                       f"{type(exc).__name__}: {str(exc)[:200]}")
                log_format.announce(f"kefu: Redis does not answer "
                                    f"({store.target.describe()}): {why}", error=True)
                return False
        await asyncio.sleep(0.5)


def after_failover(rt: Runtime, system: ActorSystem, hub: Hub, old: str, new: str) -> None:
    """Sentinel moved the primary (the primary watch's thread). What this node keeps in
    memory may be ahead of the new primary (writes that had not reached it): every actor
    starts again from Redis, and every socket is closed with 1012 so that its client
    reconnects, resumes and gets an authoritative ``hello`` (docs/reliability.md)."""
    rt.event("warning", "redis", "failover", old=old, new=new)
    system.recycle_all()
    hub.kick_all(CloseCode.SERVICE_RESTART, "redis failover")


def watch_cluster(state: AppState, node: ClusterNode) -> None:
    """Other nodes' sockets into the REST views' presence, and maintenance changes into
    this node's copy — both hop onto the loop (the node calls from its threads)."""
    loop = IOLoop.current()
    node.watch_presence = lambda snapshot: loop.add_callback(state.online.set_remote, snapshot)

    async def reload_maintenance() -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            state.maintenance = await state.bridge.run_io(load_maintenance, state.store)

    node.on_control = lambda _header: loop.add_callback(reload_maintenance)


async def drain(state: AppState, node: ClusterNode) -> None:
    """SIGTERM in cluster mode, first of all: health says ``draining`` (503) and new
    sockets are refused; every shard is handed over (its actors finish, its leases go)
    while this node's sockets still get their frames; then the usual shut-down."""
    state.closing = True
    await asyncio.get_running_loop().run_in_executor(None, node.drain)


async def close_sockets(state: AppState, server: HTTPServer) -> None:
    """The socket half of shut-down: refuse new connections, ``server_closing`` to every
    client, close every WebSocket with 1001 (after that frame: one stream, in order), and
    wait (bounded) for them and for keep-alive HTTP connections to go."""
    server.stop()
    await state.hub.shut_down(protocol.server_closing(iso(now())), CloseCode.GOING_AWAY,
                              "server closing", timeout=2.0)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.close_all_connections(), 2)


class Ticker:
    """Time as a message: every ``KEFU_TICK_SECONDS`` the system ticks (``ActorSystem.tick``)
    with a running count, so sessions can hear it in slices. Loop thread."""

    def __init__(self, system: ActorSystem, settings: Settings) -> None:
        self.system, self.every = system, settings.session_tick_every
        self.count = 0
        self.timer = PeriodicCallback(self.tick, settings.tick_seconds * 1000)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def tick(self) -> None:
        self.count += 1
        self.system.tick(now(), self.count, self.every)


def run(settings: Settings) -> int:
    log_format.configure(settings.log_format)
    return asyncio.run(serve(settings))
