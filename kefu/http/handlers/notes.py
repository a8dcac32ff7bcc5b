"""Private notes between agents in a conversation (issue 15, item 3):
``/api/sessions/{session_id}/notes``. Admins and the agents who may read the session (its
agent, and those it was transferred to) read and write them; a customer never: 404, as for
a session it cannot see (its own: 403 — it knows the session, notes are not for it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from kefu.domain import UserType
from kefu.http.clean_text import CleanText
from kefu.http.handlers.base import ApiError
from kefu.http.handlers.sessions import SessionBase
from kefu.http.models import Body
from kefu.http.openapi import doc
from kefu.persistence import notes
from kefu.protocol import encode


class NoteBody(Body):
    content: Annotated[CleanText, Field(min_length=1, max_length=4000)]


class NoteOut(BaseModel):
    id: str
    session_id: str
    from_: str = Field(alias="from")
    from_name: str
    content: str
    timestamp: str


class NoteReply(BaseModel):
    note: NoteOut


class NotesOut(BaseModel):
    session_id: str
    notes: list[NoteOut]


class SessionNotesHandler(SessionBase):
    async def agent_session(self, sid: str) -> tuple[str, str]:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU, UserType.KEHU)
        if me.user_type is UserType.KEHU:
            raise ApiError(403, "forbidden")
        meta = await self.load_session(sid, me)
        return me.id, meta.get("kefu_id", "")

    @doc("A conversation's private notes between agents (never shown to the customer)",
         roles=("admin", "kefu"), response=NotesOut, path_params=("session_id",),
         tag="sessions", errors=(401, 403, 404))
    async def get(self, sid: str) -> None:
        await self.agent_session(sid)
        found = await self.state.bridge.run_io(notes.of_session, self.state.store, sid)
        self.ok("notes_ok", {"session_id": sid, "notes": found})

    @doc("Add a private note to a conversation (its agent hears it as a `note` frame)",
         roles=("admin", "kefu"), body=NoteBody, response=NoteReply,
         path_params=("session_id",), tag="sessions", errors=(400, 401, 403, 404))
    async def post(self, sid: str) -> None:
        _me, kefu_id = await self.agent_session(sid)
        body = self.parse(NoteBody)
        user = self.user
        assert user is not None
        note = await self.state.bridge.run_io(notes.add, self.state.store, sid, user.id,
                                              user.name, body.content)
        self.state.rt.outbox.to_users([kefu_id], encode("note", note=note))
        self.ok("note_added", {"note": note})
