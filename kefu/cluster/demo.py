"""``scripts/cluster [N] [--sentinel]``: a cluster on this machine — one Redis (AOF), N
nodes and HAProxy on 127.0.0.1:8080 (``KEFU_PORT``), under ``var/cluster/``. Prints the
admin's credentials (``KEFU_ADMIN_PASSWORD``, else a new random one set on every start) and
each node's address; Ctrl-C (or SIGTERM) drains and stops every node, then HAProxy and
Redis. Try it: stop one node with ``kill <pid>`` and watch ``GET /api/system/cluster``.

``--sentinel``: Redis under Sentinel instead — a primary, two replicas and three sentinels
on loopback (``kefu/testing/sentinel.py``), the nodes with ``KEFU_ACK_REPLICAS=1``. Try
``kill -9`` of the primary's pid: Sentinel promotes a replica, the nodes follow it.
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading

from kefu.config import Settings
from kefu.testing.cluster import ClusterLab
from kefu.testing.sentinel import SentinelLab, SentinelRedis

USAGE = "usage: scripts/cluster [N] [--sentinel]   (1 ≤ N ≤ 16 nodes)"


def main(argv: list[str]) -> int:
    sentinel = "--sentinel" in argv
    rest = [a for a in argv if a != "--sentinel"]
    if len(rest) > 1 or (rest and not rest[0].isdigit()):
        print(USAGE, file=sys.stderr)
        return 2
    size = int(rest[0]) if rest else 3
    if not 1 <= size <= 16:
        print(USAGE, file=sys.stderr)
        return 2
    settings = Settings()
    root = (settings.data_dir / "cluster").resolve()
    ports = [settings.port + 1 + i for i in range(size)]
    password = settings.admin_password or secrets.token_urlsafe(12)  # the same on every node
    env = {"KEFU_ADMIN_PASSWORD": password}
    shared: SentinelRedis | None = None
    if sentinel:
        shared = SentinelRedis(SentinelLab(root / "sentinel", down_after_ms=2000, spares=1,
                                           failover_timeout_ms=180_000))
        env["KEFU_ACK_REPLICAS"] = "1"
    lab = ClusterLab(root, size=size, ttl_ms=settings.lease_ttl_ms, shards=settings.shards,
                     haproxy=True, lab=False, proxy_port=settings.port, ports=ports,
                     env=env, redis=shared)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: done.set())
    try:
        lab.start()
        assert lab.proxy is not None
        if shared is None:
            url = lab.redis.node_env["KEFU_REDIS_URL"]
            print(f"kefu cluster: {size} nodes on one Redis ({url})", flush=True)
        else:
            s = shared.lab
            assert s.primary.proc is not None
            print(f"kefu cluster: {size} nodes on Redis under Sentinel (KEFU_ACK_REPLICAS=1)\n"
                  f"  primary  127.0.0.1:{s.primary_port}  pid {s.primary.proc.pid}\n"
                  f"  replicas 127.0.0.1:{s.replica_port}, 127.0.0.1:{s.spare_ports[0]}\n"
                  f"  sentinels {s.sentinels_env} (master name {s.master_name})", flush=True)
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
