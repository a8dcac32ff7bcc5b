"""The process kit: ``kefu serve`` and ``redis-server`` as child processes.

One launcher for the server (:class:`KefuProcess`) and one for Redis (:class:`RedisProcess`,
the product's own :class:`~kefu.persistence.embedded.EmbeddedRedis` without an AOF unless
asked), used by the test suite (``tests/helpers.py``), the drills (``kefu/drills/proc.py``)
and the benchmarks (``kefu/bench/server.py``). The standard library and redis-py only:
``scripts/chaos`` and ``scripts/bench`` run with the base install. Every wait here polls a
child process (its port, its pid file), never an actor.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from kefu.persistence.embedded import EmbeddedRedis, die_with_parent

KEFU_BIN = str(Path(sys.executable).parent / "kefu")
_UNLIMITED_FRAMES = ",".join(f"{kind}:1000000" for kind in (
    "message", "read", "typing", "resume", "request_service", "switch", "rate", "ping",
    "invalid"))
# The abuse limits lifted, for runs that send bursts from one address on purpose (the
# suite, the drills, the benchmarks); the limits themselves are tested at their defaults
# (tests/security).
LAB_LIMITS = {"KEFU_GUEST_RATE_PER_MINUTE": "100000000",
              "KEFU_GUEST_GLOBAL_RATE_PER_MINUTE": "100000000",
              "KEFU_WS_MAX_PER_USER": "10000", "KEFU_WS_MAX_PER_ADDRESS": "1000000",
              "KEFU_WS_FRAME_RATES": _UNLIMITED_FRAMES, "KEFU_TYPING_INTERVAL_SECONDS": "0"}


# Ports handed out by free_port(): below Linux's ephemeral range (32768–60999), so no
# client socket takes one between the probe and the bind, and a slice of its own for each
# pytest-xdist worker (PYTEST_XDIST_WORKER=gwN), so two workers never pick the same one.
_PORT_BASE, _PORT_SLICE, _PORT_SLICES = 20000, 2000, 6


def _port_candidates() -> Iterator[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = _PORT_BASE + (int(worker) if worker.isdigit() else 0) % _PORT_SLICES * _PORT_SLICE
    ports = list(range(start, start + _PORT_SLICE))
    random.shuffle(ports)
    return itertools.cycle(ports)


_candidates = _port_candidates()
_candidates_lock = threading.Lock()


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1), not handed out before by this
    process (until its slice of 2,000 wraps round). Thread-safe."""
    with _candidates_lock:
        for _ in range(_PORT_SLICE):
            port = next(_candidates)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port in this process's slice")


def health(base: str, timeout: float = 2.0, token: str | None = None
           ) -> tuple[int, dict[str, Any]]:
    """``GET /api/system/health`` → (status, data); (0, {}) when nothing answers."""
    req = urllib.request.Request(base + "/api/system/health")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())["data"]
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError, KeyError):
            return exc.code, json.loads(exc.read())["data"]
        return exc.code, {}
    except OSError:
        return 0, {}


def wait_serving(proc: subprocess.Popen[bytes], url: str, timeout: float, what: str) -> float:
    """Poll ``url`` until it answers over HTTP (any status) → seconds it took; raises if
    ``proc`` exits or ``timeout`` passes (and then kills it)."""
    started = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return time.monotonic() - started
        except urllib.error.HTTPError:
            return time.monotonic() - started  # it answers: 503 is an answer too
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            proc.kill()
            proc.wait(10)
            raise RuntimeError(f"{what} did not start within {timeout:g} s")
        time.sleep(0.02)  # a child process starting up


def wait_health(base: str, want: int, timeout: float) -> float:
    """Poll health until it answers ``want`` → the seconds it took (raises after
    ``timeout``)."""
    started = time.monotonic()
    while True:
        status, _ = health(base, timeout=1.0)
        if status == want:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"health did not become {want} within {timeout}s (last {status})")
        time.sleep(0.02)  # polling a child process over HTTP


class KefuProcess:
    """``kefu serve`` with its own embedded Redis in ``data_dir``, logging to
    ``data_dir/server.log``."""

    def __init__(self, data_dir: Path, port: int | None = None,
                 env: dict[str, str] | None = None, tie_to_parent: bool = False) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = env or {}
        self.tie_to_parent = tie_to_parent  # SIGTERM it if the caller dies (the drills)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0  # seconds the last start took
        self.log = data_dir / "server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def full_env(self) -> dict[str, str]:
        """The environment it runs with (for a CLI command against the same data)."""
        return {**os.environ, "KEFU_DATA_DIR": str(self.data_dir), "KEFU_PORT": str(self.port),
                **self.env}

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self.full_env
        out = open(self.log, "ab")  # noqa: SIM115 - the child keeps it open
        self.proc = subprocess.Popen(
            [KEFU_BIN, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if self.tie_to_parent else None)  # noqa: PLW1509
        out.close()
        return self.proc

    def start(self, timeout: float = 30.0) -> KefuProcess:
        """Start and wait until it answers health (200 or 503)."""
        proc = self.spawn()
        try:
            self.started_in = wait_serving(proc, self.base + "/api/system/health", timeout,
                                           "server")
        except RuntimeError as exc:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{exc}: {tail}") from exc
        return self

    def kill9(self) -> None:
        """SIGKILL the server (its embedded Redis gets SIGTERM: PR_SET_PDEATHSIG)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait → its exit code; SIGKILL (→ None) if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self) -> None:
        """Stop it if it runs (SIGTERM, then SIGKILL)."""
        self.terminate()

    # --- its embedded Redis -------------------------------------------------------------

    def redis_pid(self) -> int:
        return int((self.data_dir / "redis" / "redis.pid").read_text().strip())

    def redis_socket(self) -> str:
        """The unix socket of its embedded Redis (``redis-server`` puts it in its process
        title; it may sit in a short temp dir when the data dir's path is too long)."""
        title = Path(f"/proc/{self.redis_pid()}/cmdline").read_bytes().decode()
        for part in title.replace("\0", " ").split():
            if part.startswith("unixsocket:"):
                return part.split(":", 1)[1]
        raise RuntimeError(f"no unix socket in the redis-server title {title!r}")

    def redis_client(self) -> redis.Redis:
        """A client of its Redis (checks read; they never write)."""
        return redis.Redis(unix_socket_path=self.redis_socket(), decode_responses=True)


class RedisProcess(EmbeddedRedis):
    """A throwaway ``redis-server`` on a unix socket (no AOF unless ``aof``)."""

    def __init__(self, data_dir: Path, aof: bool = False) -> None:
        super().__init__(data_dir, aof=aof)

    def start(self, timeout: float = 15.0) -> RedisProcess:  # type: ignore[override]
        super().start(timeout)
        return self

    def client(self, **kw: Any) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), **kw)

    def kill9(self) -> None:
        """SIGKILL it (an outage drill) and reap it; ``start`` brings it back on its AOF."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
