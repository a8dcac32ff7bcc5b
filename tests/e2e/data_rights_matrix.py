"""The role matrix's data-rights rows (issue 16): the admin erases a throwaway guest made
for that one call (the shared customers stay); the others are refused before any
lookup."""

from __future__ import annotations

from typing import Any


def throwaway_customer(ctx: Any, caller: str) -> tuple[Any, str | None, Any]:
    kehu_id, _ = ctx.guest()
    return None, f"/api/customers/{kehu_id}/erase", None
