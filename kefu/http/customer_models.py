"""Bodies and bounds of the customer context (issue 15, item 4): the pre-chat form an
admin configures, the answers a customer submits, custom attributes and the identify
call. The limits (README, docs/security.md): at most 20 custom form fields of 20 options
each; answers of at most 500 characters; at most 50 attributes a customer (``MAX_ATTRIBUTES``),
keys ``^[A-Za-z][A-Za-z0-9_.-]{0,39}$``, values a string of at most 256 characters, a
number or a boolean; a site's user id of 1..128 characters."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, model_validator

from kefu.http.clean_text import CleanLine, CleanText
from kefu.http.models import Body, Name, SessionItem

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,24}$")
STANDARD = ("name", "email", "phone")

FieldKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Label = Annotated[CleanLine, Field(min_length=1, max_length=60)]
Option = Annotated[CleanLine, Field(min_length=1, max_length=100)]
AttrKey = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,39}$")]
AttrValue = Annotated[CleanText, Field(max_length=256)] | StrictBool | StrictInt | StrictFloat
Attributes = Annotated[dict[AttrKey, AttrValue | None], Field(max_length=50)]
Answer = Annotated[CleanText, Field(max_length=500)]


class StandardField(Body):
    shown: bool = True
    required: bool = False


class CustomField(Body):
    key: FieldKey
    label_zh: Label
    label_en: Label
    type: Literal["text", "select"] = "text"
    options: Annotated[list[Option], Field(max_length=20)] = []
    required: bool = False

    @model_validator(mode="after")
    def _options(self) -> CustomField:
        if self.type == "select" and not self.options:
            raise ValueError("a select needs at least one option")
        if self.type == "text" and self.options:
            raise ValueError("only a select has options")
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must differ")
        return self


class PrechatForm(Body):
    """Which of name, email, phone the widget asks (``shown``) and needs (``required``),
    and the custom fields, in order."""

    name: StandardField = StandardField()
    email: StandardField = StandardField(shown=False)
    phone: StandardField = StandardField(shown=False)
    fields: Annotated[list[CustomField], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _consistent(self) -> PrechatForm:
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys) or set(keys) & set(STANDARD):
            raise ValueError("field keys must differ from each other and from name, email, phone")
        if any(getattr(self, s).required and not getattr(self, s).shown for s in STANDARD):
            raise ValueError("a required field must be shown")
        return self


class PrechatAnswers(Body):
    """What the customer filled in; checked against the form (``check_answers``)."""

    name: Name | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=30)] | None = None
    fields: Annotated[dict[FieldKey, Answer], Field(max_length=20)] = {}
    attributes: Attributes = {}


def check_answers(form: dict[str, Any], body: PrechatAnswers) -> dict[str, str]:
    """Field → reason for every answer the form refuses (empty: all good)."""
    bad: dict[str, str] = {}
    for std in STANDARD:
        value = (getattr(body, std) or "").strip()
        spec = form.get(std, {})
        if value and not spec.get("shown"):
            bad[std] = "not asked by the form"
        elif not value and spec.get("required"):
            bad[std] = "required"
    if body.email and "email" not in bad and not EMAIL_RE.match(body.email.strip()):
        bad["email"] = "not an email address"
    if body.phone and "phone" not in bad and not PHONE_RE.match(body.phone.strip()):
        bad["phone"] = "not a phone number"
    specs = {f["key"]: f for f in form.get("fields", [])}
    for key in body.fields:
        if key not in specs:
            bad[f"fields.{key}"] = "not a field of the form"
    for key, spec in specs.items():
        value = body.fields.get(key, "").strip()
        if not value:
            if spec.get("required"):
                bad[f"fields.{key}"] = "required"
        elif spec.get("type") == "select" and value not in spec.get("options", []):
            bad[f"fields.{key}"] = "not one of the options"
    return bad


class AttributesBody(Body):
    """Keys to set (a null value removes the key); merged into what is there."""

    attributes: Attributes


class IdentifyBody(Body):
    """``user_hash`` = hex(HMAC-SHA256(site secret, user_id)), computed by the site's
    server (never in the page's source)."""

    site: Annotated[str, Field(pattern=r"^site_[a-f0-9]{12}$")]
    user_id: Annotated[CleanLine, Field(min_length=1, max_length=128)]
    user_hash: Annotated[str, Field(pattern=r"^[A-Fa-f0-9]{64}$")]
    name: Name | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    attributes: Attributes = {}


class SiteBody(Body):
    name: Name


class FormOut(PrechatForm):
    pass


class SiteOut(BaseModel):
    id: str
    name: str
    created_at: str | None
    rotated_at: str | None


class SiteSecretOut(BaseModel):
    site: SiteOut
    secret: str = Field(description="shown only here: keep it on the site's server")


class SitesOut(BaseModel):
    sites: list[SiteOut]
    total: int


class CustomerOut(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    fields: dict[str, str]
    attributes: dict[str, Any]
    identified: bool
    site: str | None
    external_id: str | None
    first_seen: str | None
    last_seen: str | None
    online: bool


class CustomerReply(BaseModel):
    customer: CustomerOut


class ConversationOut(SessionItem):
    """The session object, with its rating."""

    satisfaction_score: float | None
    rating_comment: str | None


class ConversationsOut(BaseModel):
    customer_id: str
    sessions: list[ConversationOut]
    total: int
    page: int
    limit: int


class PrechatOut(BaseModel):
    customer_id: str


class AttributesOut(BaseModel):
    customer_id: str
    attributes: dict[str, Any]
