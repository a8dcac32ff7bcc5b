"""Outbound webhooks (issue 16, item 2), admin only: ``/api/webhooks`` (list, add),
``/api/webhooks/{id}`` (read, change, delete), ``/api/webhooks/{id}/secret`` (a new
secret), ``/api/webhooks/{id}/deliveries`` (the latest delivery attempts) and
``/api/webhooks/{id}/test`` (send a ``webhook.test`` event now). docs/webhooks.md
describes the events, headers, signature and retries.

The signing secret (``whsec_…``, generated unless given) is shown once — in the reply
that creates the hook or rotates its secret — as a site's identify secret is: it is not
in any other reply (nor in the audit trail), so a leaked reply or screen shows no key.
Bounds: at most 20 hooks; a URL of at most 2000 characters; the SSRF rule
(``kefu/webhooks/targets.py``) refuses private and local targets with a 400.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from kefu.domain import UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.i18n import MESSAGES
from kefu.http.models import Body, Name
from kefu.http.openapi import doc
from kefu.persistence import webhooks
from kefu.persistence.webhook_events import EVENTS
from kefu.webhooks import outbox
from kefu.webhooks.targets import RefusedTarget, check_target

MESSAGES.update({
    "webhooks_ok": ("获取 Webhook 成功", "Webhooks"),
    "webhook_ok": ("获取 Webhook 成功", "Webhook"),
    "webhook_created": ("Webhook 已创建", "Webhook created"),
    "webhook_updated": ("Webhook 已更新", "Webhook updated"),
    "webhook_deleted": ("Webhook 已删除", "Webhook deleted"),
    "webhook_secret_rotated": ("Webhook 密钥已更换", "Webhook secret rotated"),
    "webhook_deliveries_ok": ("获取投递记录成功", "Webhook deliveries"),
    "webhook_test_sent": ("测试事件已发送", "Test event sent"),
    "webhook_not_found": ("Webhook 不存在", "Webhook not found"),
    "webhook_bad_target": ("Webhook 地址不可用", "This webhook URL may not be used"),
    "too_many_webhooks": ("Webhook 数量已达上限", "Too many webhooks"),
})

EventName = Literal[tuple(EVENTS)]  # type: ignore[valid-type]
Events = Annotated[list[EventName], Field(min_length=1, max_length=len(EVENTS))]
Url = Annotated[str, Field(min_length=1, max_length=2000)]
Secret = Annotated[str, Field(min_length=16, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class WebhookBody(Body):
    """``secret``: none → a generated one (``whsec_…``)."""

    url: Url
    events: Events
    secret: Secret | None = None
    active: bool = True
    description: Name | None = None


class WebhookUpdate(Body):
    """A new secret: ``POST /api/webhooks/{id}/secret``."""

    url: Url | None = None
    events: Events | None = None
    active: bool | None = None
    description: Name | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool
    description: str | None
    created_at: str
    updated_at: str
    created_by: str | None


class WebhookReply(BaseModel):
    webhook: WebhookOut


class WebhookCreatedOut(BaseModel):
    """``secret``: shown only here (and when rotated)."""

    webhook: WebhookOut
    secret: str


class WebhookSecretOut(BaseModel):
    id: str
    secret: str


class WebhookListOut(BaseModel):
    webhooks: list[WebhookOut]
    total: int
    events: list[str]


class WebhookDeletedOut(BaseModel):
    id: str


class DeliveryOut(BaseModel):
    event_id: str
    type: str
    attempt: int
    at: str
    ok: bool
    status: int | None
    duration_ms: float
    error: str | None
    final: bool


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]


class TestSentOut(BaseModel):
    event_id: str


class WebhookBase(BaseHandler):
    async def checked_target(self, url: str) -> None:
        try:
            await self.state.bridge.run_io(check_target, url,
                                           self.state.settings.webhook_allow_private)
        except RefusedTarget as exc:
            raise ApiError(400, "webhook_bad_target", {"url": str(exc)}) from exc

    async def existing(self, hook_id: str) -> dict[str, Any]:
        await self.authenticate(UserType.ADMIN)
        found = await self.state.bridge.run_io(webhooks.get, self.state.store, hook_id)
        if found is None:
            raise ApiError(404, "webhook_not_found")
        return found


class WebhookListHandler(WebhookBase):
    @doc("The outbound webhooks", roles=("admin",), response=WebhookListOut, tag="webhooks",
         errors=(401, 403), description="`events`: every event type a hook may want.")
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN)
        found = await self.state.bridge.run_io(webhooks.all_hooks, self.state.store)
        self.ok("webhooks_ok", {"webhooks": found, "total": len(found),
                                "events": list(EVENTS)})

    @doc("Add an outbound webhook", roles=("admin",), body=WebhookBody,
         response=WebhookCreatedOut,
         tag="webhooks", errors=(400, 401, 403, 409),
         description="400 for a URL that is not http(s), has credentials, or resolves to "
                     "a private or local address (unless KEFU_WEBHOOK_ALLOW_PRIVATE=1); "
                     "409 past 20 hooks. The secret is shown only in this reply.")
    async def post(self) -> None:
        me = await self.authenticate(UserType.ADMIN)
        body = self.parse(WebhookBody)
        await self.checked_target(body.url)
        store = self.state.store
        if await self.state.bridge.run_io(webhooks.count, store) >= webhooks.MAX_HOOKS:
            raise ApiError(409, "too_many_webhooks")
        made, secret = await self.state.bridge.run_io(webhooks.create, store,
                                                      body.model_dump(), me.id)
        self.ok("webhook_created", {"webhook": made, "secret": secret})


class WebhookHandler(WebhookBase):
    @doc("One outbound webhook", roles=("admin",), response=WebhookReply, tag="webhooks",
         path_params=("webhook_id",), errors=(401, 403, 404))
    async def get(self, hook_id: str) -> None:
        self.ok("webhook_ok", {"webhook": await self.existing(hook_id)})

    @doc("Change an outbound webhook", roles=("admin",), body=WebhookUpdate,
         response=WebhookReply, tag="webhooks", path_params=("webhook_id",),
         errors=(400, 401, 403, 404))
    async def put(self, hook_id: str) -> None:
        await self.existing(hook_id)
        body = self.parse(WebhookUpdate)
        fields = body.model_dump(exclude_unset=True)
        if any(fields.get(name, "") is None for name in ("url", "events", "active")):
            raise ApiError(400, "bad_request", {"body": "url, events and active cannot be "
                                                        "null"})
        if not fields:
            raise ApiError(400, "nothing_to_update")
        if body.url is not None:
            await self.checked_target(body.url)
        found = await self.state.bridge.run_io(webhooks.update, self.state.store, hook_id,
                                               fields)
        if found is None:
            raise ApiError(404, "webhook_not_found")
        self.ok("webhook_updated", {"webhook": found})

    @doc("Delete an outbound webhook", roles=("admin",), response=WebhookDeletedOut,
         tag="webhooks", path_params=("webhook_id",), errors=(401, 403, 404))
    async def delete(self, hook_id: str) -> None:
        await self.existing(hook_id)
        await self.state.bridge.run_io(webhooks.delete, self.state.store, hook_id)
        self.ok("webhook_deleted", {"id": hook_id})


class WebhookSecretHandler(WebhookBase):
    @doc("Rotate a webhook's signing secret (the old one stops at once)", roles=("admin",),
         response=WebhookSecretOut, tag="webhooks", path_params=("webhook_id",),
         errors=(401, 403, 404), description="The new secret is shown only in this reply; "
                                             "retries still pending are signed with it.")
    async def post(self, hook_id: str) -> None:
        await self.existing(hook_id)
        secret = await self.state.bridge.run_io(webhooks.rotate_secret, self.state.store,
                                                hook_id)
        if secret is None:
            raise ApiError(404, "webhook_not_found")
        self.ok("webhook_secret_rotated", {"id": hook_id, "secret": secret})


class WebhookDeliveriesHandler(WebhookBase):
    @doc("A webhook's latest delivery attempts", roles=("admin",), response=DeliveriesOut,
         tag="webhooks", path_params=("webhook_id",), errors=(401, 403, 404),
         description="The last 100 attempts, newest first: status, duration, error.")
    async def get(self, hook_id: str) -> None:
        await self.existing(hook_id)
        found = await self.state.bridge.run_io(webhooks.deliveries, self.state.store, hook_id)
        self.ok("webhook_deliveries_ok", {"deliveries": found})


class WebhookTestHandler(WebhookBase):
    @doc("Send a test event to a webhook", roles=("admin",), response=TestSentOut,
         tag="webhooks", path_params=("webhook_id",), errors=(401, 403, 404),
         description="One `webhook.test` event, delivered (and retried) like the others, "
                     "also to an inactive hook; its attempts show in the deliveries.")
    async def post(self, hook_id: str) -> None:
        hook = await self.existing(hook_id)
        event_id = await self.state.bridge.run_io(outbox.enqueue_test, self.state.store,
                                                  hook["id"], time.time())
        self.ok("webhook_test_sent", {"event_id": event_id})
