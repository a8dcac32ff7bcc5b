"""``GET /metrics``: the Prometheus text exposition (kefu/metrics.py; docs/operations.md,
"Metrics").

Open by default, as most exporters are (the series hold counts, team ids and node ids —
no user id, no content); with ``KEFU_METRICS_TOKEN`` set, only a request carrying
``Authorization: Bearer <that token>`` gets it (Prometheus: ``authorization:
credentials``), anything else 401 in the usual envelope. Not a REST endpoint of the
``/api`` document (it is not JSON): it stays out of OpenAPI and is listed in
docs/operations.md instead.
"""

from __future__ import annotations

import hmac

from kefu import metrics
from kefu.http.handlers.base import ApiError, BaseHandler


class MetricsHandler(BaseHandler):
    openapi_skip = True  # Prometheus text, outside /api: docs/operations.md lists it

    async def get(self) -> None:
        wanted = self.state.settings.metrics_token
        if wanted:
            given = self.bearer() or ""
            if not hmac.compare_digest(given.encode(), wanted.encode()):
                raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
        node = self.state.rt.node if self.state.settings.cluster else None
        # the process collector reads /proc: off the loop
        body = await self.state.bridge.run_io(metrics.exposition, node)
        self.set_header("Content-Type", metrics.CONTENT_TYPE_LATEST)
        self.finish(body)
