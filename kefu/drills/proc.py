"""The server under test as a child process: start, ``kill -9``, restart on the same data
directory, and the same for its embedded ``redis-server`` (found by its pidfile).

Only the standard library: ``scripts/chaos`` runs with the base install.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEFU_BIN = str(Path(sys.executable).parent / "kefu")
ADMIN_PASSWORD = "drill-admin"
_UNLIMITED_FRAMES = ",".join(f"{kind}:1000000" for kind in (
    "message", "read", "typing", "resume", "request_service", "switch", "rate", "ping",
    "invalid"))
# The abuse limits lifted, for runs that send bursts from one address on purpose (the test
# suite, the drills); the limits themselves are tested at their defaults (tests/security).
LAB_LIMITS = {"KEFU_GUEST_RATE_PER_MINUTE": "100000000",
              "KEFU_GUEST_GLOBAL_RATE_PER_MINUTE": "100000000",
              "KEFU_WS_MAX_PER_USER": "10000", "KEFU_WS_MAX_PER_ADDRESS": "1000000",
              "KEFU_WS_FRAME_RATES": _UNLIMITED_FRAMES, "KEFU_TYPING_INTERVAL_SECONDS": "0"}
# The drills measure the delivery promise, not the abuse limits: per-kehu message limits
# off, cheap password hashing for throwaway users, agents kept through an outage.
DRILL_ENV = {**LAB_LIMITS, "KEFU_KEHU_MSG_RATE_PER_MINUTE": "0", "KEFU_SCRYPT_N": "1024",
             "KEFU_AGENT_GRACE_SECONDS": "600"}


def _die_with_parent() -> None:  # child side of fork: SIGTERM when the drill dies
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_socket_of(data_dir: Path) -> str:
    """The unix socket of the embedded Redis of a server running on ``data_dir``.

    redis-server rewrites its process title to ``… unixsocket:<path>`` (the arguments it
    was started with are gone), and the socket may live in a short temp dir when the data
    dir's path is too long for a unix socket."""
    pid = int((data_dir / "redis" / "redis.pid").read_text().strip())
    title = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    for part in title.replace("\0", " ").split():
        if part.startswith("unixsocket:"):
            return part.split(":", 1)[1]
    raise RuntimeError(f"no unix socket in the redis-server title {title!r}")


def health(base: str, timeout: float = 2.0) -> tuple[int, dict[str, Any]]:
    """``GET /api/system/health`` → (status, data); (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(base + "/api/system/health", timeout=timeout) as r:  # noqa: S310
            return r.status, json.loads(r.read())["data"]
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError, KeyError):
            return exc.code, json.loads(exc.read())["data"]
        return exc.code, {}
    except OSError:
        return 0, {}


def wait_health(base: str, want: int, timeout: float) -> float:
    """Poll health until it answers ``want``; returns the seconds it took (raises after
    ``timeout``). Polling a child process over HTTP, not waiting on an actor."""
    started = time.monotonic()
    while True:
        status, _ = health(base, timeout=1.0)
        if status == want:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"health did not become {want} within {timeout}s (last {status})")
        time.sleep(0.02)


@dataclass
class DrillServer:
    """``kefu serve`` with its embedded Redis (AOF everysec) in ``data_dir``."""

    data_dir: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 30.0) -> float:
        """Start the server and wait until it answers; returns the start-up seconds."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "KEFU_DATA_DIR": str(self.data_dir), "KEFU_PORT": str(self.port),
               "KEFU_ADMIN_PASSWORD": ADMIN_PASSWORD, **self.env}
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        started = time.monotonic()
        self.proc = subprocess.Popen([KEFU_BIN, "serve"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)  # noqa: PLW1509
        while True:
            if self.proc.poll() is not None:
                tail = (self.data_dir / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server exited ({self.proc.returncode}): {tail}")
            if health(self.base, timeout=1.0)[0] in (200, 503):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError("server did not start")
            time.sleep(0.02)  # a child process starting up

    # --- the server ----------------------------------------------------------------

    def kill9(self) -> None:
        """SIGKILL the server (its embedded Redis gets SIGTERM from PR_SET_PDEATHSIG)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self) -> None:
        """Stop the server (and with it its Redis)."""
        self.terminate()

    # --- its Redis -----------------------------------------------------------------

    def redis_pid(self) -> int:
        return int((self.data_dir / "redis" / "redis.pid").read_text().strip())

    def redis_socket(self) -> str:
        """The unix socket of its Redis."""
        return redis_socket_of(self.data_dir)

    def kill9_redis(self) -> None:
        """SIGKILL the embedded redis-server and wait until it is gone (the server, its
        parent, reaps it and starts another)."""
        pid = self.redis_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                break  # a zombie of the server: gone for our purposes
            time.sleep(0.01)  # the kernel reaping a killed process

    def wait_redis_replaced(self, old_pid: int, timeout: float) -> None:
        """Wait until the server has started a new embedded Redis (its pid file names
        another process). Polls a file a child process writes."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError, ValueError):
                if self.redis_pid() != old_pid:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start its Redis again")
            time.sleep(0.01)

    def redis_client(self) -> Any:
        """A client of the server's Redis (for checks: the drill reads, never writes)."""
        import redis  # noqa: PLC0415

        return redis.Redis(unix_socket_path=self.redis_socket(), decode_responses=True)
