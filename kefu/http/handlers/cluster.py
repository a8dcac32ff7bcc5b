"""``GET /api/system/cluster`` (admin): the nodes, who owns each shard, inbox lag and
fenced writes (docs/cluster.md). In single-process mode: 404 ``not_clustered``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kefu.domain import UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.openapi import doc


class NodeOut(BaseModel):
    id: str = Field(description="host:port:start-ms:random (a restart is a new id)")
    address: str | None
    alive: bool = Field(description="its heartbeat has not expired")
    draining: bool = Field(description="handing its shards over (SIGTERM)")
    heartbeat_age_seconds: float


class ShardOut(BaseModel):
    shard: str = Field(description="0..KEFU_SHARDS-1, or D (the dispatcher's)")
    owner: str | None = Field(description="the node holding its lease (None: free)")
    epoch: int = Field(description="bumped at every new acquisition (the fencing token)")


class InboxLagOut(BaseModel):
    total: int = Field(description="inbox entries not yet acknowledged, every shard")
    by_shard: dict[str, int]


class ClusterOut(BaseModel):
    node: str = Field(description="the node that answered")
    nodes: list[NodeOut]
    shards: list[ShardOut]
    dispatcher: str | None = Field(description="the node running the dispatcher")
    inbox_lag: InboxLagOut
    fenced_writes: dict[str, int] = Field(description="node → writes its scripts refused")
    this_node: dict[str, object] = Field(description="the answering node's own counters")


class ClusterHandler(BaseHandler):
    @doc("The cluster: nodes, shard owners and epochs, inbox lag, fenced writes (admin)",
         response=ClusterOut, tag="system", errors=(401, 403, 404),
         description="Cluster mode only (KEFU_CLUSTER=1); 404 not_clustered otherwise.")
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        node = self.state.cluster
        if node is None:
            raise ApiError(404, "not_clustered")
        self.ok("cluster_ok", await self.state.bridge.run_io(node.status))
