"""A conversation's transcript (issue 15, item 6): ``GET
/api/sessions/{session_id}/transcript?format=txt|json``, an attachment for the session's
customer, the agents who may read it and admins (anyone else: 404).

It holds the session's chat messages and its events (opened, transferred, ended) in order;
a deleted message is a tombstone ("[消息已删除]"); private notes between agents live apart
from the messages (``persistence/notes.py``) and are never read here. Bounded: the first
:data:`MAX_ITEMS` entries (a longer one says it was cut). Text in Chinese, English with
``Accept-Language: en``; times ISO 8601 UTC."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from kefu.http.handlers.queries import parse_query
from kefu.http.handlers.sessions import SessionBase, SessionMessageOut
from kefu.http.openapi import doc
from kefu.persistence.history import session_view

MAX_ITEMS = 10_000
Format = Literal["txt", "json"]

LABELS: dict[str, tuple[str, str]] = {
    "title": ("聊天记录", "Chat transcript"),
    "customer": ("客户", "Customer"),
    "agent": ("客服", "Agent"),
    "started": ("开始", "Started"),
    "ended": ("结束", "Ended"),
    "status": ("状态", "Status"),
    "deleted": ("[消息已删除]", "[message deleted]"),
    "system": ("系统", "System"),
    "cut": ("（记录过长，只含前 {n} 条）", "(too long: the first {n} entries only)"),
    "opened": ("会话开始", "Conversation started"),
    "transferred": ("会话已转接", "Conversation transferred"),
    "completed": ("会话已结束", "Conversation ended"),
}


class TranscriptQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    format: Format = "txt"


def label(name: str, english: bool, **params: Any) -> str:
    zh, en = LABELS[name]
    return (en if english else zh).format(**params)


def line_of(m: dict[str, Any], meta: dict[str, str], english: bool) -> str:
    """One entry of the text transcript: ``[time] who: what``."""
    when = m.get("timestamp") or ""
    if m.get("content_type") == "System":
        kind = (m.get("event") or {}).get("event", "")
        text = label(kind, english) if kind in LABELS else m.get("content", "")
        return f"[{when}] — {text} —"
    if m.get("from") == meta.get("kehu_id"):
        who = meta.get("kehu_name") or meta.get("kehu_id", "")
    else:
        who = meta.get("kefu_name") or m.get("from", "")
    if m.get("deleted"):
        body = label("deleted", english)
    else:
        body = m.get("content") or ""
        if m.get("url") and m.get("url") != body:
            body = f"{body} <{m['url']}>" if body else f"<{m['url']}>"
        if m.get("content_type") not in (None, "Text"):
            body = f"[{m['content_type']}] {body}"
    return f"[{when}] {who}: {body}"


def as_text(view: dict[str, Any], meta: dict[str, str], items: list[dict[str, Any]],
            cut: bool, english: bool) -> str:
    head = [
        f"{label('title', english)} · {view['session_id']}",
        f"{label('customer', english)}: {view['kehu_name']} ({view['kehu_id']})",
        f"{label('agent', english)}: {view['kefu_name']} ({view['kefu_id']})",
        f"{label('started', english)}: {view['created_at'] or '-'}",
        f"{label('ended', english)}: {view['ended_at'] or '-'}",
        "",
    ]
    lines = [line_of(m, meta, english) for m in items]
    if cut:
        lines.append(label("cut", english, n=MAX_ITEMS))
    return "\n".join(head + lines) + "\n"


class TranscriptHandler(SessionBase):
    @doc("Download a conversation's transcript (an attachment; no private notes)",
         roles=("admin", "kefu", "kehu"), query=TranscriptQuery, path_params=("session_id",),
         response=SessionMessageOut,
         content_type=("text/plain", "application/json"), tag="sessions",
         errors=(400, 401, 404),
         description="Its customer, the agents who may read it (its own, transferred to "
                     "it) and admins; anyone else 404. `format` txt (default: a header "
                     "with the participants, then one line per entry) or json (an array "
                     "of stored messages, events as content_type System). Deleted "
                     "messages are tombstones; at most 10,000 entries (a longer one: "
                     "header `X-Transcript-Truncated: true`).")
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        q = parse_query(self, TranscriptQuery)
        meta = await self.load_session(sid, me)
        history = self.state.history
        items, total = await self.state.bridge.run_io(history.page, sid, meta, 1, MAX_ITEMS,
                                                      True)
        view = session_view(meta)
        cut = total > len(items)
        for m in items:  # an event: what happened and when (not the agents' reasons)
            if m.get("event"):
                m["event"] = {"event": m["event"].get("event"), "ts": m["event"].get("ts")}
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sid)[:120]
        if cut:
            self.set_header("X-Transcript-Truncated", "true")
        if q.format == "json":  # as the export's json: an array of stored messages
            body = orjson.dumps(items, option=orjson.OPT_INDENT_2)
            self.set_header("Content-Type", "application/json; charset=utf-8")
        else:
            body = as_text(view, meta, items, cut, self.english).encode()
            self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Content-Disposition",
                        f'attachment; filename="transcript-{safe}.{q.format}"')
        self.finish(body)
