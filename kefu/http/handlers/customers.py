"""A customer's profile and every conversation it had, with any agent (issue 15, item 4):
``/api/customers/{id}``, ``/api/customers/{id}/sessions`` and
``/api/customers/{id}/attributes``.

Who may read (and, staff only, change attributes): an admin, any customer; the customer
itself (read only); an agent who serves or served the customer — it has a session with
it, active or not (``kehu_id:kefu_id`` exists; a transfer or requeue to it opens one).
Anyone else, and any id that is not a customer: 404, byte for byte the reply for a
missing one. The same rule lets that agent read the customer's other sessions
(``sessions.can_read``)."""

from __future__ import annotations

from typing import Any

from kefu.domain import User, UserType, iso, parse_iso, session_id
from kefu.http.customer_models import (
    AttributesBody,
    AttributesOut,
    ConversationsOut,
    CustomerReply,
)
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.openapi import doc
from kefu.persistence import customers
from kefu.persistence.history import History

WHO = ("Admin: any customer. Kefu: a customer it serves or served (it has a session with "
       "it). Kehu: itself. Anyone else, or an id that is not a customer: 404.")


def served(history: History, kehu_id: str, kefu_id: str) -> bool:
    """Does the agent serve, or has it served, this customer? (executor thread)"""
    return history.exists(session_id(kehu_id, kefu_id))


class CustomerBase(BaseHandler):
    async def customer(self, customer_id: str, me: User) -> User:
        """The customer if ``me`` may see it; 404 otherwise (no existence leak)."""
        users, history = self.state.users, self.state.history

        def find() -> User | None:  # executor thread
            found = users.get(customer_id)
            if found is None or found.user_type is not UserType.KEHU:
                return None
            if me.user_type is UserType.ADMIN:
                return found
            if me.user_type is UserType.KEHU:
                return found if me.id == customer_id else None
            return found if served(history, customer_id, me.id) else None

        found = await self.state.bridge.run_io(find)
        if found is None:
            raise ApiError(404, "customer_not_found")
        return found


class CustomerHandler(CustomerBase):
    @doc("A customer's profile: contact, pre-chat answers, attributes, identity",
         roles=("admin", "kefu", "kehu"), response=CustomerReply,
         path_params=("customer_id",), tag="customers", errors=(401, 404), description=WHO)
    async def get(self, customer_id: str) -> None:
        me = await self.authenticate()
        who = await self.customer(customer_id, me)
        store = self.state.store

        def read() -> tuple[dict[str, Any], float | None]:
            return (customers.profile(store, customer_id),
                    customers.latest_activity(store, customer_id))

        found, active = await self.state.bridge.run_io(read)
        seen = [parse_iso(x) for x in (found.pop("last_seen"), who.created_at) if x]
        if active is not None:
            seen.append(active)
        self.ok("customer_ok", {"customer": {
            "id": who.id, "name": who.name, **found, "first_seen": who.created_at,
            "last_seen": iso(max(seen)) if seen else None,
            "online": self.state.online.count(who.id) > 0}})


class CustomerSessionsHandler(CustomerBase):
    @doc("Every conversation of a customer, with any agent, newest first",
         roles=("admin", "kefu", "kehu"), response=ConversationsOut,
         path_params=("customer_id",), tag="customers", errors=(400, 401, 404),
         description=WHO + " Query: `page` ≥ 1, `limit` 1..200 (default 20). A session "
                           "listed here is readable by the same caller (its messages: "
                           "`/api/sessions/{id}/messages`).")
    async def get(self, customer_id: str) -> None:
        me = await self.authenticate()
        page = self.query_int("page", 1, 1, 1_000_000)
        limit = self.query_int("limit", 20, 1, 200)
        await self.customer(customer_id, me)
        found, total = await self.state.bridge.run_io(
            customers.conversations, self.state.store, customer_id, page, limit)
        self.ok("customer_sessions_ok", {"customer_id": customer_id, "sessions": found,
                                         "total": total, "page": page, "limit": limit})


class CustomerAttributesHandler(CustomerBase):
    @doc("Set or remove a customer's custom attributes", roles=("admin", "kefu"),
         body=AttributesBody, response=AttributesOut, path_params=("customer_id",),
         tag="customers", errors=(400, 401, 403, 404),
         description="Merged into the customer's attributes; a null value removes the "
                     "key. At most 50 attributes a customer (400 past it, nothing "
                     "written); keys `^[A-Za-z][A-Za-z0-9_.-]{0,39}$`; values a string "
                     "(≤ 256 characters), a number or a boolean. Admin: any customer; "
                     "kefu: one it serves or served (else 404).")
    async def put(self, customer_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        body = self.parse(AttributesBody)
        await self.customer(customer_id, me)
        store = self.state.store

        def write() -> dict[str, Any] | None:
            if customers.set_attributes(store, customer_id, body.attributes) < 0:
                return None
            return customers.profile(store, customer_id)["attributes"]

        attrs = await self.state.bridge.run_io(write)
        if attrs is None:
            raise ApiError(400, "bad_request", {
                "attributes": f"at most {customers.MAX_ATTRIBUTES} attributes a customer"})
        self.ok("attributes_updated", {"customer_id": customer_id, "attributes": attrs})
