"""A Redis Sentinel lab on loopback TCP: one primary, one replica behind a
:class:`~kefu.testing.link.HoldableLink`, three sentinels — for the failover drill and its
tests (tests/failover).

The replica replicates through the link (``replicaof 127.0.0.1 <link.port>``), so the lab
can hold the replica behind the primary (:meth:`SentinelLab.hold_replica`): the
replication stream stops reaching the replica while its ACKs still reach the primary.
Sentinel sees the replica pointing at the link's address rather than the primary's; it
leaves such a replica alone for ``failover_timeout_ms`` after it first saw it, then points
it at the primary itself (``+fix-slave-config``), which would bypass the link. Measured
with the default 60 s: the replica was repointed 58 s after :meth:`SentinelLab.start`
returned (with 5 s: after 8 s). So a drill holds the replica within its first ~55 s (or
passes a longer ``failover_timeout_ms``), and :meth:`SentinelLab.hold_replica` raises if the
replica no longer goes through the link.

Every process is a ``redis-server`` child on a free port of 127.0.0.1, tied to this
process (it gets SIGTERM if we die), logging to a file under ``root``. Every wait polls the
real state with a deadline and raises with the tail of the relevant log.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from kefu.persistence.embedded import die_with_parent, find_redis_server
from kefu.testing.link import HoldableLink
from kefu.testing.processes import free_port

HOST = "127.0.0.1"
_POLL = 0.05  # seconds between two polls of a child process


def _tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file ('' when it does not exist)."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _probe_kwargs() -> dict[str, Any]:
    """Client options for a poll: short timeouts and no retry (redis-py retries a refused
    connection 3 times with a backoff of seconds by default)."""
    return {"socket_timeout": 1, "socket_connect_timeout": 1, "retry": Retry(NoBackoff(), 0)}


def _probe(port: int) -> redis.Redis:
    """A client for one poll of the server on ``port`` (close it after)."""
    return redis.Redis(HOST, port, decode_responses=True, **_probe_kwargs())


def _info(port: int, section: str) -> dict[str, Any]:
    """``INFO <section>`` of the server on ``port`` ({} when it does not answer)."""
    client = _probe(port)
    try:
        return dict(client.info(section))
    except (redis.RedisError, OSError):
        return {}
    finally:
        client.close()


class _Server:
    """One ``redis-server`` child: its port, its log and its process."""

    def __init__(self, name: str, port: int, log: Path, args: list[str]) -> None:
        self.name = name
        self.port = port
        self.log = log
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start it without waiting."""
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent)  # noqa: PLW1509 - only a prctl call, see there

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def failure(self, what: str) -> RuntimeError:
        """An error saying ``what`` went wrong, with the tail of its log."""
        state = "running" if self.alive else (
            f"exited with {self.proc.returncode}" if self.proc else "not started")
        return RuntimeError(f"{self.name} (port {self.port}, {state}): {what}\n"
                            f"--- {self.log} ---\n{_tail(self.log)}")

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check`` until it is true; raise :meth:`failure` if the process exits or
        ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise self.failure(f"died while waiting until {what}")
            if check():
                return
            if time.monotonic() > deadline:
                raise self.failure(f"not {what} within {timeout:g} s")
            time.sleep(_POLL)

    def wait_ping(self, timeout: float) -> None:
        """Wait until it answers PING."""
        def pings() -> bool:
            client = _probe(self.port)
            try:
                return bool(client.ping())
            except (redis.RedisError, OSError):
                return False
            finally:
                client.close()
        self.wait_until(pings, timeout, "answering PING")

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM it and reap it; SIGKILL if it does not exit within ``timeout``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(10)


class SentinelLab:
    """A primary, a replica behind a :class:`HoldableLink`, ``spares`` more replicas
    straight from the primary, three sentinels (quorum 2).

    Args:
        root: The directory for data, configuration and logs (one entry per process).
        down_after_ms: ``sentinel down-after-milliseconds``.
        master_name: The name the sentinels monitor the primary under.
        failover_timeout_ms: ``sentinel failover-timeout``; also how long Sentinel leaves
            the replica pointing at the link before it repoints it at the primary.
        spares: Replicas of the primary with no link (Sentinel promotes the one with the
            largest replication offset: a spare, while the linked replica is held).

    Not thread-safe: one thread (the test's) drives it.
    """

    def __init__(self, root: Path, down_after_ms: int = 1000, master_name: str = "kefu",
                 failover_timeout_ms: int = 60000, spares: int = 0) -> None:
        self.root = root.resolve()
        # spare replicas straight from the primary (the same priority: Sentinel promotes
        # the most up-to-date one); the others follow the new primary after a failover,
        # so writes that wait for a replica go on without the old primary
        self.spare_ports = [free_port() for _ in range(spares)]
        self.promoted: int | None = None  # the port of the replica a failover promoted
        self.spares: list[_Server] = []
        self.down_after_ms = down_after_ms
        self.master_name = master_name
        self.failover_timeout_ms = failover_timeout_ms
        self.binary = find_redis_server()
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.link: HoldableLink | None = None
        self.primary = self._data_server("primary", self.primary_port, [])
        self.replica: _Server | None = None  # built in start(): it needs the link's port
        self.sentinel_servers = [self._sentinel(i, port)
                                 for i, port in enumerate(self.sentinel_ports, 1)]

    # --- addresses ------------------------------------------------------------------------

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """The sentinels' (host, port)."""
        return [(HOST, port) for port in self.sentinel_ports]

    @property
    def sentinels_env(self) -> str:
        """The sentinels as ``host:port,host:port,host:port``."""
        return ",".join(f"{host}:{port}" for host, port in self.sentinels)

    @property
    def link_port(self) -> int:
        """The port of the link the replica replicates through."""
        assert self.link is not None, "not started"
        return self.link.port

    # --- processes ------------------------------------------------------------------------

    def _data_server(self, name: str, port: int, extra: list[str]) -> _Server:
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{name}.log"
        return _Server(name, port, log, [
            self.binary, "--port", str(port), "--bind", HOST, "--protected-mode", "no",
            "--dir", str(data), "--appendonly", "yes", "--save", "",
            "--daemonize", "no", "--logfile", str(log),
            # no 5 s wait for more replicas before a full sync
            "--repl-diskless-sync-delay", "0",
            *extra])

    def _sentinel(self, index: int, port: int) -> _Server:
        name = f"sentinel-{index}"
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{name}.log"
        conf = data / "sentinel.conf"  # Sentinel rewrites it: it must be writable
        m = self.master_name
        conf.write_text("\n".join([
            f"port {port}",
            f"bind {HOST}",
            "protected-mode no",
            "daemonize no",
            f"dir {data}",
            f"logfile {log}",
            f"sentinel monitor {m} {HOST} {self.primary_port} 2",
            f"sentinel down-after-milliseconds {m} {self.down_after_ms}",
            f"sentinel failover-timeout {m} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {m} 1",
            ""]))
        return _Server(name, port, log, [self.binary, str(conf), "--sentinel"])

    def _all(self) -> list[_Server]:
        return [s for s in (self.primary, self.replica, *self.spares, *self.sentinel_servers)
                if s is not None]

    def start(self, timeout: float = 20.0) -> SentinelLab:
        """Start everything and wait until the replica is in sync and every sentinel knows
        the replica and the two other sentinels. The sentinels start last: they learn the
        replica from the primary's ``INFO``, which they read every 10 s once running."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        try:
            self.primary.spawn()
            self.primary.wait_ping(left())
            self.link = HoldableLink((HOST, self.primary_port))
            self.replica = self._data_server(
                "replica", self.replica_port, ["--replicaof", HOST, str(self.link.port)])
            self.spares = [self._data_server(
                f"spare-{i}", port, ["--replicaof", HOST, str(self.primary_port)])
                for i, port in enumerate(self.spare_ports, 1)]
            for server in (self.replica, *self.spares):
                server.spawn()
            for server in (self.replica, *self.spares):
                server.wait_until(
                    lambda port=server.port: _info(port, "replication").get(
                        "master_link_status") == "up", left(), "in sync with the primary")
            for server in self.sentinel_servers:
                server.spawn()
            for server in self.sentinel_servers:
                server.wait_until(lambda s=server: self._sentinel_ready(s.port), left(),
                                  "knowing the replica and the 2 other sentinels")
        except BaseException:
            self.stop()
            raise
        return self

    def _sentinel_ready(self, port: int) -> bool:
        """Whether the sentinel on ``port`` knows every replica (connected, no flag but
        ``slave``) and the two other sentinels."""
        client = _probe(port)
        try:
            master = client.sentinel_master(self.master_name)
            replicas = client.sentinel_slaves(self.master_name)
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()
        ready = {r.get("port") for r in replicas
                 if r.get("flags") == "slave" and r.get("master-link-status") == "ok"}
        return master.get("num-other-sentinels") == 2 and {
            self.replica_port, *self.spare_ports} <= ready

    def stop(self) -> None:
        """Stop every process that runs (also after :meth:`kill_primary`) and close the
        link. Idempotent."""
        for server in reversed(self._all()):  # the sentinels first: no failover on the way
            server.stop()
        if self.link is not None:
            self.link.close()

    def __enter__(self) -> SentinelLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the sentinels say -----------------------------------------------------------

    def current_primary(self) -> tuple[str, int]:
        """The primary's (host, port) as the sentinels say it (the first that answers with
        a primary it sees up); raises ``redis.sentinel.MasterNotFoundError`` if none
        does (during a failover)."""
        sentinel = Sentinel(self.sentinels, sentinel_kwargs=_probe_kwargs())
        try:
            host, port = sentinel.discover_master(self.master_name)
            return str(host), int(port)
        finally:
            for client in sentinel.sentinels:
                client.close()

    def primary_by_sentinel(self) -> list[tuple[str, int] | None]:
        """``SENTINEL GET-MASTER-ADDR-BY-NAME`` of each sentinel (None when it does not
        answer)."""
        found: list[tuple[str, int] | None] = []
        for port in self.sentinel_ports:
            client = _probe(port)
            try:
                addr = client.sentinel_get_master_addr_by_name(self.master_name)
                found.append((str(addr[0]), int(addr[1])) if addr else None)
            except (redis.RedisError, OSError):
                found.append(None)
            finally:
                client.close()
        return found

    # --- the drill's moves ----------------------------------------------------------------

    def kill_primary(self) -> None:
        """SIGKILL the primary and reap it (the link then closes the replica's side)."""
        self.primary.kill()

    def wait_failover(self, timeout: float = 30.0) -> float:
        """Wait until every sentinel names the same replica as the primary and it reports
        ``role:master`` → the seconds it took (from this call: call it right after
        :meth:`kill_primary`). :attr:`promoted` is its port then."""
        assert self.replica is not None, "not started"
        started = time.monotonic()
        candidates = {self.replica_port, *self.spare_ports}

        def done() -> bool:
            named = set(self.primary_by_sentinel())
            if len(named) != 1:
                return False
            (primary,) = named
            if primary is None or primary[1] not in candidates:
                return False
            if _info(primary[1], "replication").get("role") != "master":
                return False
            self.promoted = primary[1]
            return True

        try:
            self.replica.wait_until(done, timeout, "promoted by the sentinels")
        except RuntimeError as exc:
            logs = "\n".join(f"--- {s.log} ---\n{_tail(s.log, 1500)}"
                             for s in self.sentinel_servers)
            raise RuntimeError(f"{exc}\nsentinels say {self.primary_by_sentinel()}\n"
                               f"{logs}") from None
        return time.monotonic() - started

    def _replica_through_link(self) -> None:
        """Raise unless the replica still replicates from the link (Sentinel repoints it at
        the primary ``failover_timeout_ms`` after it first saw it)."""
        info = _info(self.replica_port, "replication")
        if info.get("master_port") != self.link_port:
            assert self.replica is not None
            raise self.replica.failure(
                f"does not replicate through the link (port {self.link_port}): "
                f"role {info.get('role')}, master port {info.get('master_port')}")

    def hold_replica(self) -> None:
        """Hold the replica behind the primary: the replication stream stops reaching it,
        its ACKs still reach the primary (so ``WAIT`` counts it as behind)."""
        self._replica_through_link()
        assert self.link is not None
        self.link.hold()

    def release_replica(self) -> None:
        """Let the replica catch up: what was held, then the live stream."""
        assert self.link is not None, "not started"
        self.link.release()

    def drop_held(self) -> None:
        """Discard what the replica was held from (the bytes a dead primary never sent)."""
        assert self.link is not None, "not started"
        self.link.drop_held()

    # --- clients --------------------------------------------------------------------------

    def primary_client(self, **kw: Any) -> redis.Redis:
        """A client of the (original) primary, decoding responses."""
        return redis.Redis(HOST, self.primary_port, decode_responses=True, **kw)

    def replica_client(self, **kw: Any) -> redis.Redis:
        """A client of the replica (the primary after a failover), decoding responses."""
        return redis.Redis(HOST, self.replica_port, decode_responses=True, **kw)

    def logs(self) -> dict[str, str]:
        """Every log's tail, by process name (for a failing drill's report)."""
        return {s.name: _tail(s.log) for s in self._all()}


class SentinelRedis:
    """The sentinel lab as the Redis a :class:`ClusterLab` shares (``SharedRedis``)."""

    def __init__(self, lab: SentinelLab) -> None:
        self.lab = lab

    @property
    def node_env(self) -> dict[str, str]:
        return {"KEFU_REDIS_SENTINELS": self.lab.sentinels_env,
                "KEFU_REDIS_SENTINEL_MASTER": self.lab.master_name}

    def start(self) -> object:
        return self.lab.start()

    def stop(self) -> None:
        self.lab.stop()

    def client(self, **kw: Any) -> redis.Redis:
        host, port = self.lab.current_primary()
        return redis.Redis(host=host, port=int(port), **kw)
