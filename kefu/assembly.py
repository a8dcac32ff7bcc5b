"""One place that builds the actor side: the registry and its factories, the runtime, the
append log and the actor system — for the server and for the actor tests alike.

Start-up and shut-down side by side: :func:`actor_system` starts the append log, then the
supervisor and the dispatcher (which restores the queue, the assignments and every
active session before it returns), and on exit stops them in reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pykka

from kefu.actors.agent import Agent
from kefu.actors.dispatcher import Dispatcher
from kefu.actors.handles import ActorHandle, Factory, Registry
from kefu.actors.runtime import Outbox, Runtime
from kefu.actors.session import Session
from kefu.actors.supervisor import Supervisor
from kefu.actors.system import ActorSystem
from kefu.config import Settings
from kefu.persistence.appends import AppendLog
from kefu.persistence.redis import Store
from kefu.persistence.users import UserStore

if TYPE_CHECKING:
    from kefu.cluster.node import ClusterNode


def _starter(cls: type[pykka.ThreadingActor], rt: Runtime) -> Callable[[str], Factory]:
    """For a registry kind: key → (handle → a started actor of ``cls``)."""
    def for_key(_key: str) -> Factory:
        def start(handle: ActorHandle) -> pykka.ActorRef[Any]:
            return cls.start(handle, rt)
        return start
    return for_key


@contextmanager
def actor_system(settings: Settings, store: Store, users: UserStore, outbox: Outbox,
                 cluster: ClusterNode | None = None) -> Iterator[tuple[Runtime, ActorSystem]]:
    """Build, start and (on exit) stop the actors and the append log.

    Args:
        settings: the server's settings.
        store: the Redis store (already connected).
        users: the user store on ``store``.
        outbox: where frames go (the Hub, the cluster's outbox, or a test's recording
            outbox).
        cluster: cluster mode: the node that places actors by shard (it starts them as
            it acquires shards, after this returns: ``ClusterNode.start``).

    Yields:
        The runtime every actor shares, and the started system (its ``tick`` is the
        server's to call).
    """
    registry = Registry()
    appends = AppendLog(store, settings.dedup_ttl_seconds)
    rt = Runtime(settings=settings, store=store, users=users, outbox=outbox,
                 registry=registry, appends=appends)
    registry.define("dispatcher", _starter(Dispatcher, rt))
    registry.define("agent", _starter(Agent, rt))
    registry.define("session", _starter(Session, rt))
    rt.supervisor = ActorHandle("supervisor", "main", _starter(Supervisor, rt)("main"),
                                closed=registry.closed)
    if cluster is not None:
        cluster.attach(rt)
    appends.start()
    system = ActorSystem(rt)
    try:
        system.start()
        yield rt, system
    finally:
        system.stop()
        appends.stop()
