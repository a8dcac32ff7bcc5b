"""User-facing messages: Chinese as in the seed, English with ``Accept-Language: en``."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[str, str]] = {
    "ok": ("操作成功", "Success"),
    "bad_request": ("请求参数错误", "Invalid request parameters"),
    "invalid_json": ("请求体不是有效的JSON", "Request body is not valid JSON"),
    "body_too_large": ("请求体过大", "Request body too large"),
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
    "session_transferred": ("会话已成功转接给客服 {to_kefu_id}",
                            "Session transferred to agent {to_kefu_id}"),
    "session_ended_ok": ("会话已结束", "Session ended"),
    "session_stats_ok": ("获取会话统计成功", "Session statistics"),
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
