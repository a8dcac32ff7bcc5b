"""``scripts/cluster [N]``: a cluster on this machine — one Redis (AOF), N nodes and HAProxy
on 127.0.0.1:8080 (``KEFU_PORT``), under ``var/cluster/``. Prints the admin's credentials
(``KEFU_ADMIN_PASSWORD``, else a new random one set on every start) and each node's
address; Ctrl-C (or SIGTERM) drains and stops every node, then HAProxy and
Redis. Try it: stop one node with ``kill <pid>`` and watch ``GET /api/system/cluster``.
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading

from kefu.config import Settings
from kefu.testing.cluster import ClusterLab


def main(argv: list[str]) -> int:
    size = int(argv[0]) if argv else 3
    if not 1 <= size <= 16:
        print("usage: scripts/cluster [N]   (1 ≤ N ≤ 16 nodes)", file=sys.stderr)
        return 2
    settings = Settings()
    root = (settings.data_dir / "cluster").resolve()
    ports = [settings.port + 1 + i for i in range(size)]
    password = settings.admin_password or secrets.token_urlsafe(12)  # the same on every node
    lab = ClusterLab(root, size=size, ttl_ms=settings.lease_ttl_ms, shards=settings.shards,
                     haproxy=True, lab=False, proxy_port=settings.port, ports=ports,
                     env={"KEFU_ADMIN_PASSWORD": password})
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: done.set())
    try:
        lab.start()
        assert lab.proxy is not None
        print(f"kefu cluster: {size} nodes on one Redis ({lab.redis.url})", flush=True)
        for node in lab.nodes:
            print(f"  node http://127.0.0.1:{node.port}  pid {node.pid}  log {node.log}")
        print(f"  HAProxy  {lab.proxy.base}  (round robin, WebSockets, health checks)")
        print(f"  admin    user_id: admin  password: {password}")
        print(f"  view     curl -H 'Authorization: Bearer <token>' "
              f"{lab.proxy.base}/api/system/cluster", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        done.wait()
    finally:
        print("kefu cluster: stopping", flush=True)
        lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
