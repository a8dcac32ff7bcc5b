"""Tags in requests (issue 15): the ``tag`` filter of a listing or search, checked and
normalised as stored, and the tags added to session items for agents and admins."""

from __future__ import annotations

from typing import Any

from kefu.domain import User, UserType
from kefu.http.handlers.base import ApiError
from kefu.http.state import AppState
from kefu.persistence import tags


def tag_filter(raw: str | None, me: User, field: str = "tag") -> str | None:
    """``raw`` as stored (None: no filter); 400 if it cannot be a tag; 403 for a kehu
    (tags are the agents' own words about a conversation)."""
    if raw is None:
        return None
    if me.user_type is UserType.KEHU:
        raise ApiError(403, "forbidden")
    try:
        (tag,) = tags.normalise([raw])
    except (tags.TagError, ValueError) as exc:
        raise ApiError(400, "bad_request", {field: str(exc) or "not a tag"}) from exc
    return tag


async def with_tags(state: AppState, views: list[dict[str, Any]]) -> None:
    """Add each session's ``tags`` to its item (one pipelined read)."""
    if not views:
        return
    found = await state.bridge.run_io(tags.of_sessions, state.store,
                                      [v["session_id"] for v in views])
    for view in views:
        view["tags"] = found.get(view["session_id"], [])
