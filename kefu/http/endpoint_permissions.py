"""Which permission each REST endpoint needs (issue 16): one table, checked in one place
(``BaseHandler.authenticate``) and shown in the OpenAPI document.

Keys are ``module.Class.method`` of the routed handler (``module`` is the last part of
its module path). ``NONE``: public, self-service, or an agent's everyday basics (its own
sessions, customers, workload, canned replies...) that the role check alone guards.
``tests/unit/test_endpoint_permissions.py`` fails when a routed method is missing here
or an entry names an unknown permission or no routed method.

A permission listed here that is grantable to a role the endpoint's ``authenticate``
call does not list lets that role in (e.g. a kefu granted ``analytics``).
"""

from __future__ import annotations

from kefu.http.i18n import MESSAGES
from kefu.permissions import NONE

MESSAGES.update({
    "permission_missing": ("缺少权限：{permission}", "Missing permission: {permission}"),
})

ENDPOINTS: dict[str, str] = {
    # auth
    "auth.LoginHandler.post": NONE, "auth.GuestHandler.post": NONE,
    "auth.LogoutHandler.post": NONE, "widget_setup.IdentifyHandler.post": NONE,
    # sessions
    "session_list.SessionListHandler.get": NONE,
    "sessions.SessionMessagesHandler.get": NONE,
    "sessions.SessionTransferHandler.post": "transfer",
    "sessions.SessionEndHandler.post": "end",
    "sessions.SessionStatisticsHandler.get": NONE,
    "sessions.SessionRoutingHandler.get": NONE,
    "sessions.SessionDetailHandler.get": NONE,
    "notes.SessionNotesHandler.get": "notes", "notes.SessionNotesHandler.post": "notes",
    "tags.SessionTagsHandler.get": NONE, "tags.SessionTagsHandler.put": NONE,
    "transcript.TranscriptHandler.get": NONE,
    "tags.TagsUsedHandler.get": NONE,
    "agent_search.AgentSearchHandler.get": NONE,
    # teams
    "teams.TeamsHandler.get": NONE, "teams.TeamsHandler.post": "teams",
    "teams.WidgetTeamsHandler.get": NONE,
    "teams.TeamHandler.get": NONE, "teams.TeamHandler.put": "teams",
    "teams.TeamHandler.delete": "teams",
    "teams.TeamMemberHandler.put": "teams", "teams.TeamMemberHandler.delete": "teams",
    # canned replies, messages left
    "canned.CannedListHandler.get": NONE, "canned.CannedListHandler.post": NONE,
    "canned.CannedHandler.put": NONE, "canned.CannedHandler.delete": NONE,
    "messages_left.MessagesLeftHandler.get": NONE,
    "messages_left.MessagesLeftHandler.post": NONE,
    "messages_left.MyMessagesLeftHandler.get": NONE,
    "messages_left.MessageLeftReplyHandler.post": NONE,
    # agent assignment
    "kefu.WaitingHandler.get": NONE,
    "kefu_views.AvailableHandler.get": NONE,
    "kefu_views.CustomersHandler.get": NONE,
    "kefu_views.WorkloadHandler.get": NONE,
    "kefu.SwitchHandler.post": "take",
    "kefu.AssignHandler.post": "take",
    # users (GET/PUT of a user: oneself needs nothing, another user ``users``, checked in
    # ``require_self_or_admin``)
    "user_admin.UserListHandler.get": "users",
    "users.UserCreateHandler.post": "users",
    "users.UserStatusHandler.put": NONE,
    "user_admin.PermissionsHandler.put": "users",
    "user_admin.UserHandler.get": NONE, "user_admin.UserHandler.put": NONE,
    "user_admin.UserHandler.delete": "users",
    # messages
    "messages.MessageListHandler.get": "messages",
    "messages.MessageSearchHandler.post": "messages",
    "messages.MessageExportHandler.post": "export",
    "messages.MessageHandler.get": NONE,
    "messages.MessageHandler.delete": "messages.delete",
    # analytics
    "analytics.OverviewHandler.get": "analytics",
    "analytics.MessageStatsHandler.get": "analytics",
    "analytics.UserStatsHandler.get": "analytics",
    "analytics.PerformanceHandler.get": "analytics",
    "tags.TagAnalyticsHandler.get": "analytics",
    # system, redis, audit
    "system.HealthHandler.get": NONE,
    "system.ActorsHandler.get": "system", "system.ActorRestartHandler.post": "system",
    "system.ActorCrashHandler.post": "system",
    "admin.LogsHandler.get": "system",
    "admin.MaintenanceHandler.get": "system", "admin.MaintenanceHandler.put": "system",
    "cluster.ClusterHandler.get": "system",
    "admin.BackupHandler.post": "backup", "admin.BackupListHandler.get": "backup",
    "admin.BackupDownloadHandler.get": "backup",
    "redis_admin.RedisStatusHandler.get": "redis", "redis_admin.RedisFlushHandler.post": "redis",
    "redis_admin.RedisKeysHandler.get": "redis",
    "audit.AuditHandler.get": "audit",
    # uploads, widget, customers
    "uploads.UploadHandler.post": NONE, "uploads.UploadFileHandler.get": NONE,
    "uploads.UploadThumbnailHandler.get": NONE,
    "widget_setup.WidgetFormHandler.get": NONE, "widget_setup.WidgetFormHandler.put": "widget",
    "widget_setup.PrechatHandler.post": NONE,
    "widget_setup.SitesHandler.get": "widget", "widget_setup.SitesHandler.post": "widget",
    "widget_setup.SiteHandler.delete": "widget", "widget_setup.SiteSecretHandler.post": "widget",
    "customers.CustomerHandler.get": NONE, "customers.CustomerSessionsHandler.get": NONE,
    "customers.CustomerAttributesHandler.put": NONE,
    # metrics (issue 16): /metrics is not a REST endpoint (its own scrape token)
    # webhooks (issue 16)
    "webhooks.WebhookListHandler.get": "webhooks", "webhooks.WebhookListHandler.post": "webhooks",
    "webhooks.WebhookHandler.get": "webhooks", "webhooks.WebhookHandler.put": "webhooks",
    "webhooks.WebhookHandler.delete": "webhooks",
    "webhooks.WebhookDeliveriesHandler.get": "webhooks",
    "webhooks.WebhookSecretHandler.post": "webhooks",
    "webhooks.WebhookTestHandler.post": "webhooks",
    # data rights and operator comfort (issue 16)
    "customer_data.CustomerEraseHandler.post": "customers",
    "customer_data.CustomerExportHandler.get": "customers",
}


def endpoint_key(handler: type, method: str) -> str:
    """``kefu.http.handlers.sessions.SessionEndHandler`` + "POST" → the table's key
    (HEAD is GET's)."""
    verb = "get" if method.lower() == "head" else method.lower()
    return f"{handler.__module__.rsplit('.', 1)[-1]}.{handler.__name__}.{verb}"


def required(handler: type, method: str) -> str | None:
    """The permission the endpoint needs; ``NONE`` for none; None when not in the table
    (the unit test fails on that; at run time the role check alone applies)."""
    return ENDPOINTS.get(endpoint_key(handler, method))
