"""Cluster mode (``KEFU_CLUSTER=1``, docs/cluster.md): N identical nodes on one Redis.

Shards owned under leases with fencing tokens (``leases.py``), per-shard inbox streams as
the actors' mailboxes across nodes (``inbox.py``, ``router.py``), pub/sub for frames and
replies (``pubsub.py``), the node registry and presence (``membership.py``). Inside a node
nothing changes: pykka actors, the supervisor and the append log.
"""
