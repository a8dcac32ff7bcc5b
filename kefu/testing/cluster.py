"""A cluster on this machine: one Redis, N ``kefu serve`` nodes in cluster mode and,
optionally, HAProxy in front — for the suite (tests/cluster), the cluster drills
(``kefu/drills/cluster.py``), the benchmarks and ``scripts/cluster``.

Every wait polls Redis or a child process, never an actor.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

import redis

from kefu.persistence.embedded import die_with_parent
from kefu.persistence.keys import DISPATCHER_SHARD, Keys
from kefu.testing import deploy_configs
from kefu.testing.processes import (
    LAB_LIMITS,
    KefuProcess,
    RedisProcess,
    free_port,
    wait_serving,
)

ADMIN_PASSWORD = "admin-pass"


def haproxy_config(port: int, nodes: list[tuple[str, int]]) -> str:
    """``deploy/haproxy.cfg`` in front of ``nodes`` (name, port): what the docs ship is what
    the cluster tests and drills run (kefu/testing/deploy_configs.py)."""
    return deploy_configs.haproxy(port, nodes)


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


class HAProxy:
    """``haproxy`` as a child process (Debian's package)."""

    def __init__(self, root: Path, nodes: list[tuple[str, int]], port: int | None = None) -> None:
        self.root, self.port = root, port or free_port()
        self.config = root / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, nodes))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> HAProxy:
        """Start it and wait until it accepts connections."""
        binary = find_haproxy()
        if binary is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        log = open(self.root / "haproxy.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([binary, "-db", "-f", str(self.config)], stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)  # noqa: PLW1509
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {(self.root / 'haproxy.log').read_text()}")
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", self.port))
                return self
            if time.monotonic() > deadline:
                raise TimeoutError("haproxy did not listen")
            time.sleep(0.05)  # polling a child process's port

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class SharedRedis(Protocol):
    """The Redis a lab's nodes share: one process, or a primary under Sentinel."""

    @property
    def node_env(self) -> dict[str, str]:
        """The settings that point a node at it."""
        ...

    def start(self) -> object: ...

    def stop(self) -> None: ...

    def client(self, **kw: Any) -> redis.Redis:
        """A client of the (current) primary, for checks."""
        ...


class OneRedis(RedisProcess):
    """One ``redis-server`` with AOF on a unix socket."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, aof=True)

    @property
    def node_env(self) -> dict[str, str]:
        return {"KEFU_REDIS_URL": self.url}


class Node(KefuProcess):
    """One cluster node: ``kefu serve`` with ``KEFU_CLUSTER=1`` on the lab's Redis."""

    def __init__(self, data_dir: Path, redis_env: dict[str, str], env: dict[str, str],
                 port: int | None = None) -> None:
        """``redis_env``: where the shared Redis is (``KEFU_REDIS_URL``, or Sentinel's)."""
        super().__init__(data_dir, port, {**env, **redis_env}, tie_to_parent=True)
        self.stopped = False  # SIGSTOPped

    def sigstop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.stopped = False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def node_id(self, client: redis.Redis, keys: Keys) -> str | None:
        """Its current incarnation's id, from the node registry (by port)."""
        for node in client.zrange(keys.nodes, 0, -1):
            if f":{self.port}:" in node and client.hget(keys.node_info(node), "pid") == str(
                    self.pid):
                return str(node)
        return None


class ClusterLab:
    """A Redis (AOF), ``size`` nodes and optionally HAProxy, under ``root``."""

    def __init__(self, root: Path, size: int = 3, ttl_ms: int = 3000, shards: int = 16,
                 haproxy: bool = False, env: dict[str, str] | None = None,
                 lab: bool = True, proxy_port: int | None = None,
                 ports: list[int] | None = None, redis: SharedRedis | None = None) -> None:
        """``lab``: the test settings (abuse limits lifted, a known admin password, cheap
        password hashing); without it (``scripts/cluster``) the product's defaults.
        ``redis``: the Redis the nodes share (default: one ``redis-server`` with AOF)."""
        self.root, self.size, self.ttl_ms, self.shards = root, size, ttl_ms, shards
        root.mkdir(parents=True, exist_ok=True)
        self.redis: SharedRedis = redis or OneRedis(root / "redis")
        self.keys = Keys()
        base = {**LAB_LIMITS, "KEFU_ADMIN_PASSWORD": ADMIN_PASSWORD, "KEFU_SCRYPT_N": "1024",
                "KEFU_KEHU_MSG_RATE_PER_MINUTE": "1000000", "KEFU_DRAIN_SECONDS": "3"
                } if lab else {}
        self.env = {**base, "KEFU_CLUSTER": "1", "KEFU_LEASE_TTL_MS": str(ttl_ms),
                    "KEFU_SHARDS": str(shards), **(env or {})}
        self.nodes: list[Node] = []
        self.proxy: HAProxy | None = None
        self.want_proxy, self.proxy_port = haproxy, proxy_port
        self.ports = ports

    @property
    def bases(self) -> list[str]:
        return [n.base for n in self.nodes]

    def client(self, **kw: Any) -> redis.Redis:
        return self.redis.client(decode_responses=True, **kw)

    def start(self, timeout: float = 60.0) -> ClusterLab:
        self.redis.start()
        self.nodes = [Node(self.root / f"node{i}", self.redis.node_env, self.env,
                           self.ports[i] if self.ports else None) for i in range(self.size)]
        for node in self.nodes:  # all at once: each waits on its own start-up
            node.spawn()
        for node in self.nodes:
            assert node.proc is not None
            node.started_in = wait_serving(node.proc, node.base + "/api/system/health",
                                           timeout, "node")
        self.wait_owned(timeout)
        if self.want_proxy:
            self.proxy = HAProxy(self.root, [(f"n{i}", n.port) for i, n in enumerate(self.nodes)],
                                 self.proxy_port)
            self.proxy.start()
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for node in self.nodes:
            if node.stopped:
                node.sigcont()
            node.stop()
        self.redis.stop()

    def restart(self, i: int, timeout: float = 60.0) -> Node:
        """Start node ``i`` again (after a kill or a stop): a new incarnation."""
        self.nodes[i].start(timeout)
        return self.nodes[i]

    # --- what Redis says ----------------------------------------------------------------

    def owners(self) -> dict[str, str | None]:
        """shard → the node id holding its lease (None: free)."""
        client = self.client()
        names = [str(s) for s in range(self.shards)] + [DISPATCHER_SHARD]
        tokens = client.mget([self.keys.lease(s) for s in names])
        return {s: (t.rpartition("|")[0] if t else None) for s, t in zip(names, tokens,
                                                                       strict=True)}

    def wait_owned(self, timeout: float, without: set[str] | None = None) -> float:
        """Until every shard has an owner (none of ``without``) → seconds waited."""
        started = time.monotonic()
        while True:
            owners = self.owners()
            if all(o is not None and o not in (without or set()) for o in owners.values()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"shards not all owned within {timeout}s: {owners}")
            time.sleep(0.05)  # polling Redis

    def node_of(self, shard: str) -> int | None:
        """The index of the node owning ``shard`` now."""
        owner = self.owners()[shard]
        for i, node in enumerate(self.nodes):
            if owner and node.alive() and owner.split(":")[1] == str(node.port):
                return i
        return None
