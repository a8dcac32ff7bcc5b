"""The role matrix's webhook rows (issue 16): an admin acts on a throwaway hook (inactive,
to a public address literal on a closed port: only the test row's event is tried); the
others are refused before any lookup, so the path's id needs no object."""

from __future__ import annotations

from typing import Any

PATH = "/api/webhooks/wh_matrix_zz"
BODY = {"url": "https://8.8.8.8:1/kefu-matrix", "events": ["session.ended"], "active": False}


def throwaway_hook(suffix: str = "") -> Any:
    def prep(ctx: Any, caller: str) -> tuple[Any, str | None, Any]:
        made = ctx.api["admin"].ok("POST", "/api/webhooks", BODY)["webhook"]
        return None, f"/api/webhooks/{made['id']}{suffix}", None

    return prep
