"""Issue 16, permissions that mean something (kefu/permissions.py): the role matrix
extended by permission — every permission-gated endpoint refuses an admin stripped of
exactly its permission; a kefu without ``transfer`` / ``end`` / ``take`` / ``notes`` is
refused over REST and WebSocket; a kefu granted ``analytics`` reads it; a change applies
to the very next request with the same token; the PUT refuses what cannot be stored.

One module server; every user is made here.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kefu.domain import UserType
from kefu.http.endpoint_permissions import ENDPOINTS
from kefu.permissions import BY_NAME, NONE, defaults
from tests.contract import assert_error
from tests.helpers import CREATED, Api, Pair, ServerProcess, open_pair, uid

pytestmark = pytest.mark.xdist_group("permissions")

# one call per gated endpoint (paths name objects that need not exist: the permission is
# checked before anything is looked up)
CALLS: dict[str, tuple[str, str]] = {
    "sessions.SessionTransferHandler.post": ("POST", "/api/sessions/nope/transfer"),
    "sessions.SessionEndHandler.post": ("POST", "/api/sessions/nope/end"),
    "notes.SessionNotesHandler.get": ("GET", "/api/sessions/nope/notes"),
    "notes.SessionNotesHandler.post": ("POST", "/api/sessions/nope/notes"),
    "teams.TeamsHandler.post": ("POST", "/api/teams"),
    "teams.TeamHandler.put": ("PUT", "/api/teams/nope"),
    "teams.TeamHandler.delete": ("DELETE", "/api/teams/nope"),
    "teams.TeamMemberHandler.put": ("PUT", "/api/teams/nope/members/nope"),
    "teams.TeamMemberHandler.delete": ("DELETE", "/api/teams/nope/members/nope"),
    "kefu.SwitchHandler.post": ("POST", "/api/kefu/nope/switch/nope"),
    "kefu.AssignHandler.post": ("POST", "/api/customer/nope/assign"),
    "user_admin.UserListHandler.get": ("GET", "/api/users"),
    "users.UserCreateHandler.post": ("POST", "/api/users/create"),
    "user_admin.PermissionsHandler.put": ("PUT", "/api/users/nope/permissions"),
    "user_admin.UserHandler.delete": ("DELETE", "/api/users/nope"),
    "messages.MessageListHandler.get": ("GET", "/api/messages"),
    "messages.MessageSearchHandler.post": ("POST", "/api/messages/search"),
    "messages.MessageExportHandler.post": ("POST", "/api/messages/export"),
    "messages.MessageHandler.delete": ("DELETE", "/api/messages/nope"),
    "analytics.OverviewHandler.get": ("GET", "/api/analytics/overview"),
    "analytics.MessageStatsHandler.get": ("GET", "/api/analytics/messages"),
    "analytics.UserStatsHandler.get": ("GET", "/api/analytics/users"),
    "analytics.PerformanceHandler.get": ("GET", "/api/analytics/performance"),
    "tags.TagAnalyticsHandler.get": ("GET", "/api/analytics/tags"),
    "system.ActorsHandler.get": ("GET", "/api/system/actors"),
    "system.ActorRestartHandler.post": ("POST", "/api/system/actors/nope/restart"),
    "system.ActorCrashHandler.post": ("POST", "/api/system/actors/nope/crash"),
    "admin.LogsHandler.get": ("GET", "/api/system/logs"),
    "admin.MaintenanceHandler.get": ("GET", "/api/system/maintenance"),
    "admin.MaintenanceHandler.put": ("PUT", "/api/system/maintenance"),
    "cluster.ClusterHandler.get": ("GET", "/api/system/cluster"),
    "admin.BackupHandler.post": ("POST", "/api/system/backup"),
    "admin.BackupListHandler.get": ("GET", "/api/system/backups"),
    "admin.BackupDownloadHandler.get": ("GET", "/api/system/backups/nope"),
    "redis_admin.RedisStatusHandler.get": ("GET", "/api/redis/status"),
    "redis_admin.RedisFlushHandler.post": ("POST", "/api/redis/flush"),
    "redis_admin.RedisKeysHandler.get": ("GET", "/api/redis/keys"),
    "audit.AuditHandler.get": ("GET", "/api/admin/audit"),
    "widget_setup.WidgetFormHandler.put": ("PUT", "/api/widget/form"),
    "widget_setup.SitesHandler.get": ("GET", "/api/widget/sites"),
    "widget_setup.SitesHandler.post": ("POST", "/api/widget/sites"),
    "widget_setup.SiteHandler.delete": ("DELETE", "/api/widget/sites/nope"),
    "widget_setup.SiteSecretHandler.post": ("POST", "/api/widget/sites/nope/secret"),
    "webhooks.WebhookListHandler.get": ("GET", "/api/webhooks"),
    "webhooks.WebhookListHandler.post": ("POST", "/api/webhooks"),
    "webhooks.WebhookHandler.get": ("GET", "/api/webhooks/nope"),
    "webhooks.WebhookHandler.put": ("PUT", "/api/webhooks/nope"),
    "webhooks.WebhookHandler.delete": ("DELETE", "/api/webhooks/nope"),
    "webhooks.WebhookDeliveriesHandler.get": ("GET", "/api/webhooks/nope/deliveries"),
    "webhooks.WebhookTestHandler.post": ("POST", "/api/webhooks/nope/test"),
    "webhooks.WebhookSecretHandler.post": ("POST", "/api/webhooks/nope/secret"),
    "customer_data.CustomerEraseHandler.post": ("POST", "/api/customers/nope/erase"),
    "customer_data.CustomerExportHandler.get": ("GET", "/api/customers/nope/export"),
}


def make(admin: Api, user_type: str, permissions: list[str] | None = None) -> tuple[str, Api]:
    user_id = uid(f"p{user_type}")
    body: dict[str, object] = {"id": user_id, "name": user_id, "user_type": user_type,
                               "password": "pw"}
    if permissions is not None:
        body["permissions"] = permissions
    admin.ok("POST", "/api/users/create", body)
    if user_type == "kefu":
        CREATED.append((admin.base, "kefu", user_id))  # deleted after the test
    return user_id, Api.login(admin.base, user_id, "pw")


def set_perms(admin: Api, user_id: str, permissions: list[str] | None) -> list[str]:
    return admin.ok("PUT", f"/api/users/{user_id}/permissions",
                    {"permissions": permissions})["permissions"]


def missing(r: httpx.Response, permission: str) -> None:
    body = assert_error(r, 403, "permission_missing")
    assert body["data"] == {"permission": permission}


@pytest.fixture()
def pair(server: ServerProcess, admin: Api) -> Iterator[Pair]:
    p = open_pair(server, admin)
    yield p
    p.close()


def test_every_gated_endpoint_refuses_an_admin_without_its_permission(admin: Api) -> None:
    gated = {k for k, v in ENDPOINTS.items() if v != NONE}
    assert gated == set(CALLS), "a gated endpoint without a call here"
    everything = defaults(UserType.ADMIN)
    admins = {name: make(admin, "admin", [p for p in everything if p != name])[1]
              for name in BY_NAME}
    for key, (method, path) in CALLS.items():
        needed = ENDPOINTS[key]
        missing(admins[needed].call(method, path, {}), needed)
        # every other admin (holding it) gets past the permission
        other = admins["end" if needed != "end" else "transfer"]
        r = other.call(method, path, {})
        assert r.status_code != 403 or r.json().get("error") != "permission_missing", key


def test_kefu_stripped_of_transfer_end_take_notes(admin: Api, pair: Pair) -> None:
    p = pair  # the open_pair's kefu holds the defaults
    kefu_id, kefu, k, sid = p.kefu_id, p.kefu, p.k, p.sid
    assert admin.ok("GET", f"/api/users/{kefu_id}")["user"]["permissions"] == \
        defaults(UserType.KEFU)
    assert set_perms(admin, kefu_id, ["end"]) == ["end"]
    # the same token, the next request: transfer, switch, assign, notes refused
    missing(kefu.call("POST", f"/api/sessions/{sid}/transfer", {"to_kefu_id": "x"}),
            "transfer")
    missing(kefu.call("POST", f"/api/kefu/{kefu_id}/switch/{p.kehu_id}"), "take")
    missing(kefu.call("GET", f"/api/sessions/{sid}/notes"), "notes")
    # ... and the frames, on the socket opened before the change
    k.send(type="switch", customer_id=p.kehu_id)
    err = k.expect("error")
    assert (err["code"], err["permission"]) == ("forbidden", "take")
    k.send(type="note", session_id=sid, content="秘密")
    err = k.expect("error")
    assert (err["code"], err["permission"]) == ("forbidden", "notes")
    k.send(type="accept", offer_id="nope")
    assert k.expect("error")["permission"] == "take"
    # chat needs no permission: the customer still gets the agent's message
    k.send(type="message", client_msg_id=uid("m"), content="还在", content_type="Text",
           session_id=sid)
    k.expect("ack")
    # back to the defaults (null): the frame works again, with no reconnect
    assert set_perms(admin, kefu_id, None) == defaults(UserType.KEFU)
    k.send(type="switch", customer_id=p.kehu_id)
    assert k.expect("switched")["customer_id"] == p.kehu_id
    # without end: 403 on end; with it again, the end goes through
    set_perms(admin, kefu_id, ["transfer"])
    missing(kefu.call("POST", f"/api/sessions/{sid}/end"), "end")
    set_perms(admin, kefu_id, ["end"])
    kefu.ok("POST", f"/api/sessions/{sid}/end")


def test_admin_without_analytics_export_users(admin: Api) -> None:
    _, narrow = make(admin, "admin", ["system"])
    missing(narrow.call("GET", "/api/analytics/overview"), "analytics")
    missing(narrow.call("POST", "/api/messages/export", {"format": "json"}), "export")
    missing(narrow.call("GET", "/api/users"), "users")
    missing(narrow.call("PUT", "/api/users/admin", {"name": "x"}), "users")  # another user
    narrow.ok("GET", "/api/system/actors")


def test_kefu_granted_analytics_reads_it(admin: Api) -> None:
    kefu_id, kefu = make(admin, "kefu")
    assert "error" not in assert_error(kefu.call("GET", "/api/analytics/overview"), 403)
    assert set_perms(admin, kefu_id, ["analytics", "transfer"]) == ["transfer", "analytics"]
    assert "total_sessions" in str(kefu.ok("GET", "/api/analytics/overview"))
    assert "error" not in assert_error(kefu.call("GET", "/api/users"), 403)  # the role


def test_put_refuses_what_cannot_be_stored(admin: Api) -> None:
    kefu_id, _ = make(admin, "kefu")
    r = admin.call("PUT", f"/api/users/{kefu_id}/permissions",
                   {"permissions": ["transfer", "fly", "redis"]})
    body = assert_error(r, 400, details=("permissions.1", "permissions.2"))
    assert "fly" in body["details"]["permissions.1"]
    kehu_id, _ = admin.guest()
    assert_error(admin.call("PUT", f"/api/users/{kehu_id}/permissions",
                            {"permissions": ["end"]}), 400, details=("permissions",))
    assert_error(admin.call("PUT", "/api/users/admin/permissions", {"permissions": ["system"]}),
                 400, details=("permissions",))
    assert_error(admin.call("POST", "/api/users/create",
                            {"name": "x", "user_type": "kefu", "permissions": ["nope"]}),
                 400, details=("permissions.0",))
    empty_id, empty = make(admin, "kefu", [])  # an explicit empty list: nothing
    assert empty.ok("GET", f"/api/users/{empty_id}")["user"]["permissions"] == []


def test_bootstrap_admin_keeps_users(server: ServerProcess) -> None:
    api = Api.login(server.base, "admin", "admin-pass")
    assert "users" in api.ok("GET", "/api/users/admin")["user"]["permissions"]
    api.ok("GET", "/api/users")
