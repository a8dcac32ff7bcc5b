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
from pathlib import Path

from kefu.testing.processes import LAB_LIMITS, KefuProcess, wait_serving

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


def spawn_server(port: int, data_dir: Path,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``kefu serve`` on ``port`` with ``KEFU_DATA_DIR=data_dir`` (its embedded Redis
    lives in ``data_dir/redis``), logging to ``data_dir/server.log``; do not wait."""
    return KefuProcess(data_dir, port, {**BENCH_ENV, **(env or {})}).spawn()


def start_server(port: int, data_dir: Path, env: dict[str, str] | None = None,
                 timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """``kefu serve`` (see :func:`spawn_server`), once it answers health."""
    server = KefuProcess(data_dir, port, {**BENCH_ENV, **(env or {})}).start(timeout)
    assert server.proc is not None
    return server.proc


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    """The bare Tornado relay ``scripts/baseline_relay.py`` (no actors, no Redis)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "baseline_relay.py"),
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_serving(proc, f"http://127.0.0.1:{port}/api/system/health", 20, "baseline relay")
    return proc


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
