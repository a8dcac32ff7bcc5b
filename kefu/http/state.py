"""What every handler shares (built once at start-up, used on the IOLoop thread)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kefu.actors.runtime import Runtime
from kefu.actors.system import ActorSystem
from kefu.config import Settings
from kefu.http.bridge import Bridge
from kefu.http.connections import Hub
from kefu.http.online import Online
from kefu.persistence.history import History
from kefu.persistence.maintenance import Maintenance
from kefu.persistence.redis import Store
from kefu.persistence.redis_target import PrimaryWatch
from kefu.persistence.users import UserStore

if TYPE_CHECKING:
    from kefu.cluster.node import ClusterNode
    from kefu.uploads.service import Uploads


@dataclass
class AppState:
    settings: Settings
    store: Store
    users: UserStore
    history: History
    bridge: Bridge
    hub: Hub
    rt: Runtime
    system: ActorSystem
    online: Online
    cluster: ClusterNode | None = None  # cluster mode
    primary_watch: PrimaryWatch | None = None  # Redis under Sentinel: where the primary is
    uploads: Uploads | None = None  # files and images (issue 15; kefu/uploads/)
    closing: bool = False
    # maintenance mode: a copy of the dispatcher's flag (loaded at start-up, replaced by
    # PUT /api/system/maintenance once the dispatcher has stored the change)
    maintenance: Maintenance = field(default_factory=Maintenance)
