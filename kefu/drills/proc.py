"""The server under a drill: ``kefu serve`` with its embedded Redis (``kefu.testing``'s
:class:`~kefu.testing.processes.KefuProcess`), tied to the drill's life, plus ``kill -9``
of that Redis alone. The standard library and redis-py only: ``scripts/chaos`` runs with
the base install.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from kefu.testing.processes import LAB_LIMITS, KefuProcess

ADMIN_PASSWORD = "drill-admin"
# The drills measure the delivery promise, not the abuse limits: per-kehu message limits
# off, cheap password hashing for throwaway users, agents kept through an outage.
DRILL_ENV = {**LAB_LIMITS, "KEFU_KEHU_MSG_RATE_PER_MINUTE": "0", "KEFU_SCRYPT_N": "1024",
             "KEFU_AGENT_GRACE_SECONDS": "600"}


class DrillServer(KefuProcess):
    """``kefu serve`` (AOF everysec) in ``data_dir``; SIGTERMed if the drill dies."""

    def __init__(self, data_dir: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir, port, {"KEFU_ADMIN_PASSWORD": ADMIN_PASSWORD,
                                          **(env or {})}, tie_to_parent=True)

    def kill9_redis(self) -> None:
        """SIGKILL the embedded redis-server and wait until it is gone (the server, its
        parent, reaps it and starts another)."""
        pid = self.redis_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
            except OSError:
                break  # reaped (the server waits on its child and reaps it at once)
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                break  # a zombie not yet reaped: gone for our purposes
            time.sleep(0.01)  # the kernel reaping a killed process

    def wait_redis_replaced(self, old_pid: int, timeout: float) -> None:
        """Wait until the server has started a new embedded Redis (its pid file names
        another process). Polls a file a child process writes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.redis_pid() != old_pid:
                    return
            except (OSError, ValueError):
                pass  # between the old pid file's removal and the new one's
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start its Redis again")
            time.sleep(0.01)
