"""The servers a benchmark drives, as child processes: start the real server (``kefu
serve``, its own embedded Redis with AOF on) or the bare baseline relay, wait until it
answers, read its CPU time, RSS and thread count from ``/proc``, and stop it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kefu.drills.proc import LAB_LIMITS

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")

# Settings every benchmark server gets: a known admin password; no guest sign-up or
# per-customer message rate limit (the suites create thousands of guests from one address
# and send far more than a person types); the password hash cost of before the security
# work (scrypt N=2^14), so creating thousands of agents stays within minutes — password
# hashing is not what these scenarios measure.
# The other abuse limits are lifted too (every client is on 127.0.0.1; a closed loop sends
# ~10 frames per second per socket, the default budget's rate): the per-connection frame
# budget still runs for every frame, it just never refuses, so the figures include its
# cost.
BENCH_ENV = {**LAB_LIMITS, "KEFU_ADMIN_PASSWORD": "bench", "KEFU_KEHU_MSG_RATE_PER_MINUTE": "0",
             "KEFU_SCRYPT_N": "16384"}


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def kefu_command() -> list[str]:
    """The command ``scripts/serve`` ends with: the venv's ``kefu serve``."""
    return [str(Path(sys.executable).parent / "kefu"), "serve"]


def spawn_server(port: int, data_dir: Path,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``kefu serve`` on ``port`` with ``KEFU_DATA_DIR=data_dir`` (its embedded Redis
    lives in ``data_dir/redis``), logging to ``data_dir/server.log``; do not wait."""
    full = {**os.environ, **BENCH_ENV, "KEFU_PORT": str(port), "KEFU_DATA_DIR": str(data_dir),
            **(env or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - the child keeps it open
    return subprocess.Popen(kefu_command(), env=full, stdout=log, stderr=subprocess.STDOUT)


def start_server(port: int, data_dir: Path, env: dict[str, str] | None = None,
                 timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """``kefu serve`` (see :func:`spawn_server`), waiting for /api/system/health."""
    return wait_healthy(spawn_server(port, data_dir, env), port, timeout, "server")


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    """The bare Tornado relay ``scripts/baseline_relay.py`` (no actors, no Redis)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "baseline_relay.py"),
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, 20, "baseline relay")


def wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float,
                 what: str) -> subprocess.Popen[bytes]:
    """Poll ``/api/system/health`` of a child server until it answers (else kill it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/system/health", timeout=2)  # noqa: S310
            return proc
        except OSError:
            time.sleep(0.05)  # a child process starting up, not an actor
    proc.kill()
    raise RuntimeError(f"{what} did not start within {timeout:g} s")


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` (KiB) and ``Threads`` of a process, from ``/proc/<pid>/status``."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "Threads"):
                out["rss_kib" if name == "VmRSS" else "threads"] = int(value.split()[0])
    return out


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (the embedded redis-server of a kefu server)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                continue
    return out


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> float | None:
    """SIGTERM, then SIGKILL (and its redis-server child) if it has not exited in time.
    Returns the seconds it took to exit after SIGTERM (None when it had to be killed)."""
    kids = children(proc.pid)
    started = time.monotonic()
    took: float | None = None
    proc.terminate()
    try:
        proc.wait(timeout)
        took = time.monotonic() - started
        print(f"  server exited {took:.1f} s after SIGTERM", file=sys.stderr)
    except subprocess.TimeoutExpired:
        print(f"  server pid {proc.pid} still running {timeout:g} s after SIGTERM: killed",
              file=sys.stderr)
        proc.kill()
        proc.wait(10)
    for pid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
    return took


def bench_port(offset: int) -> int:
    """A port for one scenario's server, unlikely to clash with another run's."""
    return 18000 + (os.getpid() + offset) % 1000
