"""Query-string models of the listings (seed 1.1, 3.1) and their parser: the same models
validate the request and document it in the OpenAPI document.

Pagination: ``page`` ≥ 1 (default 1), ``limit`` 1..200 (default 20); out of range is a
400 with ``details``, never clamped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kefu.http.handlers.base import ApiError, BaseHandler, validation_details
from kefu.http.models import UserId

Q = TypeVar("Q", bound=BaseModel)
DateText = Annotated[str, Field(max_length=40, description=(
    "ISO 8601 date (YYYY-MM-DD, a whole UTC day) or datetime (Z, offset, or naive = UTC)"))]


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 20


def _optional(schema: dict[str, Any]) -> None:
    """Document an optional filter as its plain type: no ``null`` branch (a query string
    cannot carry one) and no ``default: null`` (absent means no filter)."""
    schema.pop("default", None)
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


def absent() -> Any:
    """The default of an optional filter (absent = no filter)."""
    return Field(None, json_schema_extra=_optional)


class SessionListQuery(Query):
    kefu_id: UserId | None = absent()
    status: Literal["active", "completed", "transferred"] | None = absent()
    start_date: DateText | None = absent()
    end_date: DateText | None = absent()
    tag: Annotated[str, Field(min_length=1, max_length=64)] | None = absent()  # issue 15


class UserListQuery(Query):
    user_type: Literal["kefu", "kehu", "admin"] | None = absent()
    status: Literal["online", "offline", "away", "busy"] | None = absent()


def parse_query(handler: BaseHandler, model: type[Q]) -> Q:
    """The request's query arguments (the last of each name; empty = absent) as
    ``model``, or a 400 with ``details`` (field → reason)."""
    raw = {name: handler.get_query_argument(name) for name in handler.request.query_arguments}
    data = {k: v for k, v in raw.items() if v != "" and k in model.model_fields}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "bad_request", validation_details(exc)) from exc


class PageInfo(BaseModel):
    """The seed's ``pagination`` object of listings."""

    page: int
    limit: int
    total: int
    total_pages: int


def page_info(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total,
            "total_pages": (total + limit - 1) // limit}
