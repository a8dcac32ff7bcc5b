"""Request bodies of the REST API (pydantic; the same models document the API)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kefu.domain import AgentStatus, Priority, UserType
from kefu.http.clean_text import CleanLine, CleanText

UserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Name = Annotated[CleanLine, Field(min_length=1, max_length=100)]
Password = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[CleanText, Field(max_length=1000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginBody(Body):
    user_id: UserId
    password: Password


class GuestBody(Body):
    name: Name | None = None


class CreateUserBody(Body):
    id: UserId | None = None
    name: Name
    user_type: UserType
    password: Password | None = None
    max_sessions: Annotated[int, Field(ge=1, le=100)] = 5
    # None: the role's defaults; a list: exactly these (kefu/permissions.py)
    permissions: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] \
        | None = None


class StatusBody(Body):
    status: AgentStatus


class TransferBody(Body):
    """To an agent (``to_kefu_id``, seed 1.4) or to the front of a team's queue
    (``to_team``): exactly one of them."""

    to_kefu_id: UserId | None = None
    to_team: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] | None = None
    reason: Note | None = None
    note: Note | None = None

    def target_error(self) -> dict[str, str] | None:
        """The 400's details when not exactly one target is named."""
        if self.to_kefu_id is None and self.to_team is None:
            return {"to_kefu_id": "required (or to_team)"}
        if self.to_kefu_id is not None and self.to_team is not None:
            return {"to_team": "not with to_kefu_id: one target"}
        return None


class AssignBody(Body):
    kefu_id: UserId | None = None
    priority: Priority = Priority.NORMAL
    note: Note | None = None
    force: bool = False


# --- replies (documented in the OpenAPI document) ----------------------------------


class UserOut(BaseModel):
    """A user as every endpoint shows it (never with a password)."""

    id: str
    name: str
    user_type: UserType
    status: AgentStatus
    max_sessions: int
    permissions: list[str]
    created_at: str


class TokenOut(BaseModel):
    token: str
    user: UserOut
    expires_at: str


class RevokedOut(BaseModel):
    revoked: bool


class UserCreatedOut(BaseModel):
    user: UserOut


class UserStatusOut(BaseModel):
    user_id: str
    status: AgentStatus
    effective_status: AgentStatus | None = Field(
        default=None, description="a kefu's status as routing sees it (offline without a "
                                  "live connection); absent for other users")


class MessageOut(BaseModel):
    """A stored message (SPEC §4); a deleted one has ``deleted`` true and empty content."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    from_: str = Field(alias="from")
    to: str | None = None
    content: str
    content_type: str
    timestamp: str | None = None
    url: str | None = None
    session_id: str | None = None
    seq: int | None = None
    client_msg_id: str | None = None
    deleted: bool | None = None
    deleted_at: str | None = None


class ReadMarks(BaseModel):
    """The highest ``seq`` each participant has read."""

    kehu: int
    kefu: int


class SessionItem(BaseModel):
    """The seed's session object (plus ``last_seq``, ``ended_at``, transfer links and
    read marks)."""

    session_id: str
    kefu_id: str | None
    kefu_name: str | None
    kehu_id: str | None
    kehu_name: str | None
    status: str | None
    created_at: str | None
    updated_at: str | None
    message_count: int
    last_message: str | None
    last_seq: int
    ended_at: str | None
    transferred_from: str | None
    transferred_to: str | None
    read: ReadMarks
    tags: list[str] | None = None  # the list, for agents and admins (issue 15)
