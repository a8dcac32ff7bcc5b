"""The route table (one screen) and the Tornado application."""

from __future__ import annotations

from typing import Any

from tornado.log import access_log
from tornado.web import Application, RequestHandler

from kefu.http.client_address import client_address
from kefu.http.handlers import (
    admin,
    agent_search,
    analytics,
    audit,
    auth,
    canned,
    cluster,
    customer_data,
    customers,
    docs,
    kefu,
    kefu_views,
    messages,
    messages_left,
    metrics,
    notes,
    pages,
    redis_admin,
    session_list,
    sessions,
    system,
    tags,
    teams,
    transcript,
    uploads,
    user_admin,
    users,
    webhooks,
    widget_setup,
)
from kefu.http.handlers.base import NotFoundHandler
from kefu.http.http_limits import NoServerHeader
from kefu.http.openapi import swagger_static_dir
from kefu.http.state import AppState
from kefu.http.websocket import ChatSocket

SID = r"([^/]+)"
ID = r"([^/]+)"


def routes(state: AppState) -> list[tuple[str, Any, dict[str, Any]]]:
    s = {"state": state}
    table: list[tuple[str, Any, dict[str, Any]]] = [
        (r"/ws", ChatSocket, s),
        # auth (SPEC §2)
        (r"/api/auth/login", auth.LoginHandler, s),
        (r"/api/auth/guest", auth.GuestHandler, s),
        (r"/api/auth/logout", auth.LogoutHandler, s),
        # 1. sessions
        (r"/api/sessions/list", session_list.SessionListHandler, s),
        (rf"/api/sessions/{SID}/messages", sessions.SessionMessagesHandler, s),
        (rf"/api/sessions/{SID}/transfer", sessions.SessionTransferHandler, s),
        (rf"/api/sessions/{SID}/end", sessions.SessionEndHandler, s),
        (rf"/api/sessions/{SID}/statistics", sessions.SessionStatisticsHandler, s),
        (rf"/api/sessions/{SID}/routing", sessions.SessionRoutingHandler, s),
        (rf"/api/sessions/{SID}/notes", notes.SessionNotesHandler, s),
        (r"/api/teams", teams.TeamsHandler, s),
        (r"/api/widget/teams", teams.WidgetTeamsHandler, s),
        (r"/api/canned-responses", canned.CannedListHandler, s),
        (rf"/api/canned-responses/{ID}", canned.CannedHandler, s),
        (r"/api/messages-left", messages_left.MessagesLeftHandler, s),
        (r"/api/messages-left/mine", messages_left.MyMessagesLeftHandler, s),
        (rf"/api/messages-left/{ID}/reply", messages_left.MessageLeftReplyHandler, s),
        (rf"/api/teams/{ID}", teams.TeamHandler, s),
        (rf"/api/teams/{ID}/members/{ID}", teams.TeamMemberHandler, s),
        (rf"/api/sessions/{SID}", sessions.SessionDetailHandler, s),
        # 2. agent assignment
        (r"/api/kefu/waiting", kefu.WaitingHandler, s),
        (r"/api/kefu/available", kefu_views.AvailableHandler, s),
        (rf"/api/kefu/{ID}/customers", kefu_views.CustomersHandler, s),
        (rf"/api/kefu/{ID}/workload", kefu_views.WorkloadHandler, s),
        (rf"/api/kefu/{ID}/switch/{ID}", kefu.SwitchHandler, s),
        (rf"/api/customer/{ID}/assign", kefu.AssignHandler, s),
        # 3. users
        (r"/api/users", user_admin.UserListHandler, s),
        (r"/api/users/create", users.UserCreateHandler, s),
        (rf"/api/users/{ID}/status", users.UserStatusHandler, s),
        (rf"/api/users/{ID}/permissions", user_admin.PermissionsHandler, s),
        (rf"/api/users/{ID}", user_admin.UserHandler, s),
        # 4. messages
        (r"/api/messages", messages.MessageListHandler, s),
        (r"/api/messages/search", messages.MessageSearchHandler, s),
        (r"/api/messages/export", messages.MessageExportHandler, s),
        (rf"/api/messages/{ID}", messages.MessageHandler, s),
        # 5. analytics
        (r"/api/analytics/overview", analytics.OverviewHandler, s),
        (r"/api/analytics/messages", analytics.MessageStatsHandler, s),
        (r"/api/analytics/users", analytics.UserStatsHandler, s),
        (r"/api/analytics/performance", analytics.PerformanceHandler, s),
        # 6. system
        (r"/api/system/health", system.HealthHandler, s),
        (r"/api/system/actors", system.ActorsHandler, s),
        (rf"/api/system/actors/{ID}/restart", system.ActorRestartHandler, s),
        (r"/api/system/logs", admin.LogsHandler, s),
        (r"/api/system/backup", admin.BackupHandler, s),
        (r"/api/system/backups", admin.BackupListHandler, s),
        (rf"/api/system/backups/{ID}", admin.BackupDownloadHandler, s),
        (r"/api/system/maintenance", admin.MaintenanceHandler, s),
        (r"/api/system/cluster", cluster.ClusterHandler, s),
        # 7. redis
        (r"/api/redis/status", redis_admin.RedisStatusHandler, s),
        (r"/api/redis/flush", redis_admin.RedisFlushHandler, s),
        (r"/api/redis/keys", redis_admin.RedisKeysHandler, s),
        # security (docs/security.md)
        (r"/api/admin/audit", audit.AuditHandler, s),
        # uploads (issue 15)
        (r"/api/uploads", uploads.UploadHandler, s),
        (rf"/api/uploads/{ID}", uploads.UploadFileHandler, s),
        (rf"/api/uploads/{ID}/thumbnail", uploads.UploadThumbnailHandler, s),
        # customer context (issue 15)
        (r"/api/auth/identify", widget_setup.IdentifyHandler, s),
        (r"/api/widget/form", widget_setup.WidgetFormHandler, s),
        (r"/api/widget/prechat", widget_setup.PrechatHandler, s),
        (r"/api/widget/sites", widget_setup.SitesHandler, s),
        (rf"/api/widget/sites/{ID}", widget_setup.SiteHandler, s),
        (rf"/api/widget/sites/{ID}/secret", widget_setup.SiteSecretHandler, s),
        (rf"/api/customers/{ID}", customers.CustomerHandler, s),
        (rf"/api/customers/{ID}/sessions", customers.CustomerSessionsHandler, s),
        (rf"/api/customers/{ID}/attributes", customers.CustomerAttributesHandler, s),
        # tags and the agent's own search (issue 15)
        (rf"/api/sessions/{SID}/tags", tags.SessionTagsHandler, s),
        (rf"/api/sessions/{SID}/transcript", transcript.TranscriptHandler, s),
        (r"/api/tags", tags.TagsUsedHandler, s),
        (r"/api/analytics/tags", tags.TagAnalyticsHandler, s),
        (r"/api/kefu/search", agent_search.AgentSearchHandler, s),
        # metrics (issue 16)
        (r"/metrics", metrics.MetricsHandler, s),
        # webhooks (issue 16)
        (r"/api/webhooks", webhooks.WebhookListHandler, s),
        (rf"/api/webhooks/{ID}", webhooks.WebhookHandler, s),
        (rf"/api/webhooks/{ID}/secret", webhooks.WebhookSecretHandler, s),
        (rf"/api/webhooks/{ID}/deliveries", webhooks.WebhookDeliveriesHandler, s),
        (rf"/api/webhooks/{ID}/test", webhooks.WebhookTestHandler, s),
        # permissions (issue 16)
        # data rights and operator comfort (issue 16)
        (rf"/api/customers/{ID}/erase", customer_data.CustomerEraseHandler, s),
        (rf"/api/customers/{ID}/export", customer_data.CustomerExportHandler, s),
    ]
    if state.settings.fault_injection:
        table.append((rf"/api/system/actors/{ID}/crash", system.ActorCrashHandler, s))
    table += [
        (r"/api/openapi.json", docs.OpenApiHandler, {"routes": table}),
        (r"/api/docs/?", docs.DocsHandler, {}),
        (r"/api/docs/static/docs-init.js", docs.DocsInitHandler, {}),
        (r"/api/docs/static/(.*)", docs.DocsStaticHandler, {"path": swagger_static_dir()}),
    ]
    table += pages.page_routes()  # /console, /console/admin, /chat (docs/ui.md)
    return table


def make_app(state: AppState) -> Application:
    s = state.settings

    def log_request(handler: RequestHandler) -> None:
        """Tornado's access log without query strings (a ``?token=`` must never be
        logged), with the client's real address."""
        status = handler.get_status()
        level = access_log.info if status < 400 else access_log.warning
        if status >= 500:
            level = access_log.error
        req = handler.request
        address = client_address(req.remote_ip or "", req.headers.get("X-Forwarded-For"),
                                 s.trusted_proxies)
        level("%d %s %s (%s) %.2fms", status, req.method, req.path, address,
              1000.0 * req.request_time())

    return Application(
        routes(state),
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        websocket_ping_interval=s.ws_ping_interval,
        websocket_ping_timeout=s.ws_ping_timeout,
        websocket_max_message_size=s.max_frame_bytes,
        compress_response=False,
        log_function=log_request,
        transforms=[NoServerHeader],
    )
