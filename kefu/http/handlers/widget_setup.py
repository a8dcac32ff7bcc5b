"""The widget's customer context (issue 15, item 4): the pre-chat form
(``/api/widget/form``: anyone reads it, an admin changes it), the customer's answers
(``POST /api/widget/prechat``), the embedding sites with their identify secrets
(``/api/widget/sites``, admin) and the signed identify (``POST /api/auth/identify``).

Identify follows Intercom's identity verification: the site's server computes
``user_hash = hex(HMAC-SHA256(site secret, user_id))`` and the page hands it to the widget;
a good one returns a token for the one customer bound to (site, user_id), the same on
every device; a bad one (401) or an unknown site (404) creates nothing and counts
against the address (``KEFU_LOGIN_FAIL_LIMIT`` failures per
``KEFU_LOGIN_FAIL_WINDOW_SECONDS``, then 429)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from kefu.config import Settings
from kefu.domain import UserType, iso
from kefu.http.customer_models import (
    EMAIL_RE,
    FormOut,
    IdentifyBody,
    PrechatAnswers,
    PrechatForm,
    PrechatOut,
    SiteBody,
    SiteOut,
    SiteSecretOut,
    SitesOut,
    check_answers,
)
from kefu.http.handlers.auth import too_many
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import TokenOut
from kefu.http.openapi import doc
from kefu.persistence import customers, widget_setup
from kefu.persistence.rate_limits import Limit, RateLimits


def identify_limit(s: Settings) -> Limit:
    return Limit("identify_fail", s.login_fail_limit, s.login_fail_window_seconds)


def user_hash(secret: str, user_id: str) -> str:
    """What a site's server computes for its user: hex(HMAC-SHA256(secret, user_id))."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


class WidgetFormHandler(BaseHandler):
    @doc("The pre-chat form the widget shows", roles=(), response=FormOut, tag="widget",
         errors=())
    async def get(self) -> None:
        form = await self.state.bridge.run_io(widget_setup.get_form, self.state.store)
        self.ok("widget_form_ok", form)

    @doc("Configure the pre-chat form", roles=("admin",), body=PrechatForm, response=FormOut,
         tag="widget", errors=(400, 401, 403),
         description="`name`, `email`, `phone`: `shown` and `required` (a required field "
                     "is shown). `fields`: at most 20 custom fields (`key` "
                     "`^[a-z][a-z0-9_]{0,31}$`, unique; `label_zh`, `label_en`; `type` "
                     "text or select with 1..20 `options`; `required`).")
    async def put(self) -> None:
        await self.authenticate(UserType.ADMIN)
        form = self.parse(PrechatForm).model_dump(mode="json")
        await self.state.bridge.run_io(widget_setup.put_form, self.state.store, form)
        self.ok("widget_form_updated", form)


class PrechatHandler(BaseHandler):
    @doc("The customer's answers to the pre-chat form", roles=("kehu",), body=PrechatAnswers,
         response=PrechatOut, tag="widget", errors=(400, 401, 403),
         description="Checked against the form: a required field missing, a field the "
                     "form does not ask, a malformed email or phone, a value not among a "
                     "select's options, an answer over 500 characters → 400 with "
                     "`details` (field → reason), nothing stored. Stored in the "
                     "customer's profile (the name also in its user record); "
                     "`attributes` (the embedding page's, unsigned) are merged as "
                     "`PUT /api/customers/{id}/attributes` does.")
    async def post(self) -> None:
        me = await self.authenticate(UserType.KEHU)
        body = self.parse(PrechatAnswers)
        store, users = self.state.store, self.state.users
        form = await self.state.bridge.run_io(widget_setup.get_form, store)
        bad = check_answers(form, body)
        if bad:
            raise ApiError(400, "bad_request", bad)
        answers = {k: v.strip() for k, v in body.fields.items() if v.strip()}

        def save() -> bool:  # executor thread
            if body.attributes and customers.set_attributes(store, me.id, body.attributes) < 0:
                return False
            if body.name and body.name.strip():
                users.set_fields(me.id, name=body.name.strip())
            customers.save_contact(store, me.id, email=(body.email or "").strip() or None,
                                   phone=(body.phone or "").strip() or None, fields=answers)
            return True

        if not await self.state.bridge.run_io(save):
            raise ApiError(400, "bad_request", {
                "attributes": f"at most {customers.MAX_ATTRIBUTES} attributes a customer"})
        self.ok("prechat_saved", {"customer_id": me.id})


class SitesHandler(BaseHandler):
    @doc("The embedding sites (their secrets are not shown again)", roles=("admin",),
         response=SitesOut, tag="widget", errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        found = await self.state.bridge.run_io(widget_setup.all_sites, self.state.store)
        self.ok("sites_ok", {"sites": found, "total": len(found)})

    @doc("Add an embedding site: its id and identify secret (shown only in this reply)",
         roles=("admin",), body=SiteBody, response=SiteSecretOut, tag="widget",
         errors=(400, 401, 403, 409), description="409 past 100 sites.")
    async def post(self) -> None:
        await self.authenticate(UserType.ADMIN)
        body = self.parse(SiteBody)
        made = await self.state.bridge.run_io(widget_setup.create_site, self.state.store,
                                              body.name)
        if made is None:
            raise ApiError(409, "too_many_sites")
        self.ok("site_created", {"site": made[0], "secret": made[1]})


class SiteHandler(BaseHandler):
    @doc("Remove an embedding site", roles=("admin",), response=SiteOut,
         path_params=("site_id",), tag="widget", errors=(401, 403, 404),
         description="Its identify calls stop (404); its customers and their history stay.")
    async def delete(self, site_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        store = self.state.store

        def remove() -> dict[str, Any] | None:
            found = [s for s in widget_setup.all_sites(store) if s["id"] == site_id]
            return found[0] if found and widget_setup.delete_site(store, site_id) else None

        gone = await self.state.bridge.run_io(remove)
        if gone is None:
            raise ApiError(404, "site_not_found")
        self.ok("site_deleted", gone)


class SiteSecretHandler(BaseHandler):
    @doc("Rotate a site's identify secret (the old one stops working at once)",
         roles=("admin",), response=SiteSecretOut, path_params=("site_id",), tag="widget",
         errors=(401, 403, 404))
    async def post(self, site_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        made = await self.state.bridge.run_io(widget_setup.rotate_secret, self.state.store,
                                              site_id)
        if made is None:
            raise ApiError(404, "site_not_found")
        self.ok("site_secret_rotated", {"site": made[0], "secret": made[1]})


class IdentifyHandler(BaseHandler):
    @doc("Sign in as a website's logged-in user (signed with the site's secret)", roles=(),
         body=IdentifyBody, response=TokenOut, tag="auth", errors=(400, 401, 404, 429),
         description="`user_hash` = hex(HMAC-SHA256(site secret, user_id)). A good one: a "
                     "token for the one customer bound to (site, user_id), made on first "
                     "use; `name`, `email`, `attributes` update its profile. A bad hash "
                     "401, an unknown site 404: nothing is created, and past "
                     "KEFU_LOGIN_FAIL_LIMIT failures from the address in "
                     "KEFU_LOGIN_FAIL_WINDOW_SECONDS, 429.")
    async def post(self) -> None:
        body = self.parse(IdentifyBody)
        if body.email and not EMAIL_RE.match(body.email.strip()):
            raise ApiError(400, "bad_request", {"email": "not an email address"})
        store, users = self.state.store, self.state.users
        limits, limit = RateLimits(store), identify_limit(self.state.settings)
        client = self.client_address()

        def attempt() -> tuple[str | None, str | None]:  # executor thread
            verdict = limits.peek(limit, client)
            if not verdict.allowed:
                return None, "limited"
            secret = widget_setup.site_secret(store, body.site)
            if secret is None or not hmac.compare_digest(
                    user_hash(secret, body.user_id), body.user_hash.lower()):
                limits.hit(limit, client)
                return None, "site_not_found" if secret is None else "identify_failed"
            kehu_id = customers.identify(store, body.site, body.user_id,
                                         body.name or "访客")
            if body.name:
                users.set_fields(kehu_id, name=body.name)
            customers.save_contact(store, kehu_id, email=(body.email or "").strip() or None)
            if body.attributes and customers.set_attributes(store, kehu_id,
                                                            body.attributes) < 0:
                return None, "too_many_attributes"
            return kehu_id, None

        kehu_id, refused = await self.state.bridge.run_io(attempt)
        if refused == "limited":
            raise too_many(await self.state.bridge.run_io(limits.peek, limit, client))
        if refused == "too_many_attributes":
            raise ApiError(400, "bad_request", {
                "attributes": f"at most {customers.MAX_ATTRIBUTES} attributes a customer"})
        if refused is not None or kehu_id is None:
            raise ApiError(404 if refused == "site_not_found" else 401,
                           refused or "identify_failed")

        def sign_in() -> tuple[dict[str, Any], str, float]:
            user = users.get(kehu_id)
            assert user is not None  # just bound
            token, expires = users.issue_token(kehu_id)
            return user.model_dump(mode="json"), token, expires

        user, token, expires = await self.state.bridge.run_io(sign_in)
        self.ok("identify_ok", {"token": token, "user": user, "expires_at": iso(expires)})
