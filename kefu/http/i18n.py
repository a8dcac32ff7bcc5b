"""User-facing messages: Chinese as in the seed, English with ``Accept-Language: en``."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[str, str]] = {
    "ok": ("操作成功", "Success"),
    "bad_request": ("请求参数错误", "Invalid request parameters"),
    "invalid_json": ("请求体不是有效的JSON", "Request body is not valid JSON"),
    "body_too_large": ("请求体过大", "Request body too large"),
    "header_too_large": ("请求头过大", "Request header fields too large"),
    "unauthorized": ("未授权访问", "Unauthorized"),
    "invalid_credentials": ("用户名或密码错误", "Invalid user id or password"),
    "forbidden": ("没有权限执行此操作", "Forbidden"),
    "not_found": ("资源不存在", "Not found"),
    "method_not_allowed": ("不支持的请求方法", "Method not allowed"),
    "internal": ("服务器内部错误", "Internal server error"),
    "storage_unavailable": ("存储暂时不可用，请稍后重试", "Storage unavailable, retry later"),
    "actor_failed": ("服务组件故障，请稍后重试", "Service component failed, retry later"),
    "timeout": ("服务繁忙，请稍后重试", "Service busy, retry later"),
    "rate_limited": ("请求过于频繁", "Too many requests"),
    "user_exists": ("用户已存在", "User already exists"),
    "user_not_found": ("用户不存在", "User not found"),
    "session_not_found": ("会话不存在", "Session not found"),
    "session_not_active": ("会话不是进行中的状态", "Session is not active"),
    "session_ended": ("会话已结束", "Session has ended"),
    "session_active": ("会话仍在进行中", "Session is still active"),
    "already_rated": ("会话已评价", "Session already rated"),
    "kefu_not_found": ("客服不存在", "Agent not found"),
    "kefu_full": ("客服已达到最大会话数", "Agent is at capacity"),
    "kefu_unavailable": ("目标客服不在线或已满", "Target agent is offline or at capacity"),
    "transfer_same_kefu": ("不能转接给当前客服", "Cannot transfer to the current agent"),
    "customer_not_found": ("客户不存在或不属于该客服", "Customer not found for this agent"),
    "already_in_session": ("客户已在会话中", "Customer is already in a session"),
    "no_session": ("没有可发送的会话", "No session to send to"),
    "actor_not_found": ("Actor不存在", "Actor not found"),
    "not_a_kehu": ("该用户不是客户", "User is not a customer"),
    "login_ok": ("登录成功", "Logged in"),
    "logout_ok": ("已退出登录", "Logged out"),
    "guest_ok": ("访客已创建", "Guest created"),
    "user_created": ("用户创建成功", "User created"),
    "user_detail_ok": ("获取用户详情成功", "User details"),
    "status_updated": ("用户状态已更新", "User status updated"),
    "session_detail_ok": ("获取会话详情成功", "Session details"),
    "session_messages_ok": ("获取会话消息成功", "Session messages"),
    "session_transferred_team": ("会话已转接到团队 {team}", "Session transferred to team {team}"),
    "session_transferred": ("会话已成功转接给客服 {to_kefu_id}",
                            "Session transferred to agent {to_kefu_id}"),
    "session_ended_ok": ("会话已结束", "Session ended"),
    "session_stats_ok": ("获取会话统计成功", "Session statistics"),
    "session_routing_ok": ("获取分配说明成功", "Why this agent"),
    "teams_ok": ("获取团队列表成功", "Teams"),
    "team_ok": ("获取团队成功", "Team"),
    "team_created": ("团队创建成功", "Team created"),
    "team_updated": ("团队已更新", "Team updated"),
    "team_deleted": ("团队已删除", "Team deleted"),
    "team_exists": ("团队已存在", "A team with this id exists"),
    "team_not_found": ("团队不存在", "Team not found"),
    "notes_ok": ("获取备注成功", "Notes"),
    "note_added": ("备注已添加", "Note added"),
    "canned_ok": ("获取快捷回复成功", "Canned responses"),
    "canned_created": ("快捷回复已添加", "Canned response added"),
    "canned_updated": ("快捷回复已更新", "Canned response updated"),
    "canned_deleted": ("快捷回复已删除", "Canned response deleted"),
    "canned_not_found": ("快捷回复不存在", "Canned response not found"),
    "message_left": ("留言已收到", "Message received"),
    "messages_left_ok": ("获取留言成功", "Messages left"),
    "message_left_answered": ("留言已回复", "Reply sent"),
    "message_left_not_found": ("留言不存在", "Message not found"),
    "already_answered": ("该留言已被回复", "This message was answered already"),
    # customer context (issue 15)
    "customer_ok": ("获取客户资料成功", "Customer profile"),
    "customer_sessions_ok": ("获取客户会话成功", "Customer's conversations"),
    "attributes_updated": ("客户属性已更新", "Attributes updated"),
    "widget_form_ok": ("获取咨询前表单成功", "Pre-chat form"),
    "widget_form_updated": ("咨询前表单已更新", "Pre-chat form updated"),
    "prechat_saved": ("资料已保存", "Details saved"),
    "sites_ok": ("获取接入网站成功", "Sites"),
    "site_created": ("接入网站已添加", "Site added"),
    "site_deleted": ("接入网站已删除", "Site removed"),
    "site_secret_rotated": ("密钥已更换", "Secret rotated"),
    "site_not_found": ("接入网站不存在", "Site not found"),
    "too_many_sites": ("接入网站数量已达上限", "Too many sites"),
    "identify_ok": ("身份验证成功", "Identified"),
    "identify_failed": ("身份验证失败", "Identity verification failed"),
    "member_not_found": ("该客服不在团队中", "The agent is not in the team"),
    "switch_ok": ("客服 {kefu_id} 已成功切换到客户 {customer_id}",
                  "Agent {kefu_id} switched to customer {customer_id}"),
    "waiting_ok": ("获取等待客户列表成功", "Waiting customers"),
    "assign_ok": ("客户 {customer_id} 已成功分配给客服 {kefu_id}",
                  "Customer {customer_id} assigned to agent {kefu_id}"),
    "assign_queued": ("客户 {customer_id} 已进入等待队列", "Customer {customer_id} is queued"),
    "health_ok": ("系统运行正常", "System healthy"),
    "health_bad": ("系统异常", "System unhealthy"),
    "actors_ok": ("获取Actor列表成功", "Actors"),
    "actor_restarted": ("Actor已重启", "Actor restarted"),
}


def wants_english(accept_language: str | None) -> bool:
    """True when the first language the client names is English."""
    if not accept_language:
        return False
    first = accept_language.split(",")[0].strip().lower()
    return first.startswith("en")


def text(key: str, english: bool, **params: Any) -> str:
    zh, en = MESSAGES.get(key, (key, key))
    template = en if english else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


# --- session list, kefu views, user administration (seed 1.1, 2.1, 2.2, 2.4, 3.1, 3.4–3.6)
MESSAGES.update({
    "sessions_list_ok": ("获取会话列表成功", "Sessions"),
    "kefu_customers_ok": ("获取客服客户列表成功", "Agent's customers"),
    "workload_ok": ("获取客服工作负载成功", "Agent workload"),
    "available_kefu_ok": ("获取可用客服列表成功", "Available agents"),
    "users_list_ok": ("获取用户列表成功", "Users"),
    "user_updated": ("用户更新成功", "User updated"),
    "user_deleted": ("用户已删除", "User deleted"),
    "permissions_updated": ("用户权限已更新", "User permissions updated"),
    "nothing_to_update": ("没有需要更新的字段", "Nothing to update"),
    "kefu_has_sessions": ("客服仍有 {count} 个进行中的会话，请先结束或转接后再删除",
                          "Agent still has {count} active session(s): end or transfer them "
                          "before deleting"),
    "user_in_service": ("客户正在会话中或在等待队列中，不能删除",
                        "Customer is in a session or waiting in the queue and cannot be "
                        "deleted"),
    "cannot_delete_self": ("不能删除内置管理员或当前登录的账号",
                           "Cannot delete the built-in admin or your own account"),
})

# --- messages and analytics (seed 4.1–4.5, 5.1–5.4)
MESSAGES.update({
    "messages_list_ok": ("获取消息列表成功", "Messages"),
    "message_detail_ok": ("获取消息详情成功", "Message details"),
    "messages_search_ok": ("搜索消息成功", "Message search results"),
    "message_deleted": ("消息已删除", "Message deleted"),
    "message_not_found": ("消息不存在", "Message not found"),
    "analytics_overview_ok": ("获取概览统计成功", "Overview statistics"),
    "analytics_messages_ok": ("获取消息统计成功", "Message statistics"),
    "analytics_users_ok": ("获取用户统计成功", "User statistics"),
    "analytics_performance_ok": ("获取性能统计成功", "Performance statistics"),
})

# --- system and Redis administration (seed 6.1–6.3, 7.1–7.3)
MESSAGES.update({
    "logs_ok": ("获取系统日志成功", "System log"),
    "backup_ok": ("系统备份成功", "Backup created"),
    "backups_ok": ("获取备份列表成功", "Backups"),
    "backup_in_progress": ("已有备份正在进行，请稍后重试", "A backup is already running"),
    "backup_too_slow": ("备份未能在写入暂停时间内完成，已放弃（未写入文件）",
                        "The backup did not finish inside the write pause and was discarded"),
    "backup_not_found": ("备份文件不存在", "Backup not found"),
    "bad_backup_name": ("备份文件名无效", "Invalid backup name"),
    "backup_invalid": ("备份文件无效", "Invalid backup file"),
    "maintenance_ok": ("获取维护模式状态成功", "Maintenance mode"),
    "maintenance_on": ("维护模式已开启", "Maintenance mode enabled"),
    "maintenance_off": ("维护模式已关闭", "Maintenance mode disabled"),
    # the operator's message verbatim (else the default, in each language)
    "maintenance": ("{message}", "{message_en}"),
    "maintenance_default": ("系统维护中，请稍后再试",
                            "The system is under maintenance, please try again later"),
    "health_maintenance": ("系统维护中", "System under maintenance"),
    "health_draining": ("节点正在下线", "This node is draining"),
    "cluster_ok": ("获取集群状态成功", "Cluster status"),
    "not_clustered": ("未启用集群模式", "Cluster mode is not enabled"),
    "redis_status_ok": ("获取Redis状态成功", "Redis status"),
    "redis_flushed": ("Redis数据已清理，共删除 {deleted} 个键", "Redis data flushed: "
                      "{deleted} keys deleted"),
    "redis_keys_ok": ("查询Redis键成功", "Redis keys"),
})
