"""The service flow in the browser: the queue and "take", transfer with history, end,
rating; reloads and dropped links that lose nothing and show nothing twice."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages
from tests.helpers import Api


def send(page: Page, text: str) -> None:
    page.fill(".composer-input", text)
    page.locator(".composer-input").press("Enter")


def test_customer_waits_in_the_queue_then_the_agent_takes_it(pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "客服排队")
    status = agent.locator(".status-btn")
    expect(status).to_have_text("在线")
    status.click()  # away: no automatic assignment
    expect(status).to_have_text("离开")
    assert admin.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]["set_status"] == "away"

    kehu_id, customer = pages.customer("排队的客户")
    expect(customer.locator(".queue-pos")).to_be_visible()
    waiting = admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]
    position = next(w["position"] for w in waiting if w["customer_id"] == kehu_id)
    expect(customer.locator(".queue-pos")).to_have_text(f"您当前排在第 {position} 位")
    # the only agent is away: no wait is promised (issue 15: it said 5 minutes)
    expect(customer.locator(".queue-banner")).to_contain_text("暂无客服可接待")
    send(customer, "排队时发的消息")
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["排队中"])
    customer.reload()  # keeps its place and what it sent while waiting
    expect(customer.locator(".queue-pos")).to_have_text(f"您当前排在第 {position} 位")
    expect(customer.locator(".tl-msg.mine .bubble")).to_have_text(["排队时发的消息"])
    assert admin.ok("GET", "/api/kefu/waiting")["total"] == len(waiting)

    row = agent.locator(".queue-item", has_text="排队的客户")
    expect(row).to_contain_text(f"第 {position} 位")
    row.get_by_role("button", name="接入").click()

    expect(customer.locator(".queue-banner")).to_be_hidden()
    expect(customer.locator(".chat-sub")).to_have_text("客服「客服排队」为您服务")
    expect(agent.locator(".chat-title")).to_have_text("排队的客户")
    # the message sent while waiting reached the agent, once
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["排队时发的消息"])
    expect(agent.locator(".queue-item")).to_have_count(0)
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["已读"])


def test_transfer_with_history_then_end_and_rating(pages: Pages, admin: Api) -> None:
    a_id, _, a = pages.agent(admin, "客服甲")
    kehu_id, customer = pages.customer("转接的客户")
    b_id, _, b = pages.agent(admin, "客服乙")
    send(customer, "我的订单有问题")
    a.locator(".customer", has_text="转接的客户").click()
    expect(a.locator(".tl-msg.theirs .bubble")).to_have_text(["我的订单有问题"])
    send(a, "我帮您转给专员")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["我帮您转给专员"])

    a.get_by_role("button", name="转接", exact=True).click()
    dialog = a.locator("dialog")
    dialog.locator("select[name=to]").select_option(b_id)
    dialog.locator("input[name=reason]").fill("专业问题")
    dialog.locator("textarea[name=note]").fill("订单 1234")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_have_count(0)

    expect(customer.locator(".chat-sub")).to_have_text("客服「客服乙」为您服务")
    expect(customer.locator(".tl-sys", has_text="已为您转接至客服「客服乙」")).to_have_count(1)
    expect(a.locator(".customer", has_text="转接的客户")).to_contain_text("已转接")
    # the new agent's list shows the chat's last message before it opens it (issue 15)
    expect(b.locator(".customer", has_text="转接的客户")).to_contain_text("我帮您转给专员")
    b.locator(".customer", has_text="转接的客户").click()
    # the new agent sees the earlier session (both sides) and the reason and note
    timeline = b.locator(".timeline")
    expect(timeline.locator(".tl-divider").first).to_contain_text("之前的会话 · 客服甲")
    expect(timeline.locator(".tl-msg .bubble")).to_have_text(["我的订单有问题", "我帮您转给专员"])
    expect(timeline.locator(".tl-sys", has_text="由 客服甲 转接而来（原因：专业问题；备注：订单 1234）")
           ).to_have_count(1)

    send(customer, "还在吗")
    expect(timeline.locator(".tl-msg.theirs .bubble")).to_have_text(["我的订单有问题", "还在吗"])
    send(b, "在的，马上处理")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["我帮您转给专员", "在的，马上处理"])

    b.get_by_role("button", name="结束会话", exact=True).click()
    b.locator("dialog button[type=submit]").click()
    expect(b.locator(".chat-sub")).to_contain_text("已结束")
    expect(timeline.locator(".tl-sys").last).to_contain_text("您结束了会话")
    expect(a.locator(".tl-sys", has_text="已转接给 客服乙")).to_have_count(1)
    expect(b.locator(".composer-input")).to_be_disabled()

    rating = customer.locator(".rating")
    expect(rating).to_be_visible()
    rating.get_by_role("radio", name="4 星").click()
    rating.locator("textarea").fill("很专业")
    rating.get_by_role("button", name="提交评价").click()
    expect(customer.locator(".rated")).to_contain_text("感谢您的评价")

    sid = f"{kehu_id}:{b_id}"
    stats = admin.ok("GET", f"/api/sessions/{sid}/statistics")["statistics"]
    assert stats["satisfaction_score"] == 4 and stats["rating_comment"] == "很专业"  # shown in the dashboard
    old = admin.ok("GET", f"/api/sessions/{kehu_id}:{a_id}")["session"]
    assert (old["status"], old["transferred_to"]) == ("transferred", sid)


def test_agent_reload_mid_conversation_misses_nothing_and_shows_nothing_twice(
        pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "客服刷新")
    kehu_id, customer = pages.customer("刷新时的客户")
    send(customer, "一")
    agent.locator(".customer", has_text="刷新时的客户").click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["一"])
    send(agent, "二")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["二"])

    expect(agent.locator(".tl-msg.mine .tl-state")).to_have_text(["已读"])
    agent.evaluate("() => window.kefuConsole.socket.stop()")  # the old page is gone
    send(agent, "没发出去的回复")  # unsent when the page goes: kept for the reloaded page
    expect(agent.locator(".tl-msg.mine .tl-state")).to_have_text(["已读", "发送中"])
    send(customer, "三（刷新期间）")
    send(customer, "四（刷新期间）")
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["已读", "未读", "未读"])
    agent.reload()
    expect(agent.locator(".pill.link-open")).to_be_visible()
    row = agent.locator(".customer", has_text="刷新时的客户")
    row.click()
    expected = ["一", "二", "三（刷新期间）", "四（刷新期间）", "没发出去的回复"]
    expect(agent.locator(".tl-msg .bubble")).to_have_text(expected)
    send(customer, "五")
    expect(agent.locator(".tl-msg .bubble")).to_have_text([*expected, "五"])
    ids = agent.locator(".tl-msg").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(ids) == len(set(ids)) == 6
    stored = admin.ok("GET", f"/api/sessions/{kehu_id}:{kefu_id}/messages")["messages"]
    assert [m["content"] for m in stored] == [*expected, "五"]


def test_dropped_links_reconnect_resume_and_resend_once(pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "客服断线")
    kehu_id, customer = pages.customer("断线的客户")
    send(customer, "开始")
    agent.locator(".customer", has_text="断线的客户").click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["开始"])

    # the agent's link drops: what the customer sends meanwhile arrives after the resume
    # (the next retry is put far off, so the test decides when the network is back)
    agent.evaluate("() => { const s = window.kefuConsole.socket; s.delay = 600000; s.drop(); }")
    expect(agent.locator(".pill")).to_have_text("连接中断，正在重连…")
    send(customer, "断线期间的消息")
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["已读", "未读"])  # stored
    send(agent, "离线时写的回复")  # kept in the outbox, sent after the reconnect
    expect(agent.locator(".tl-msg.mine .tl-state")).to_have_text(["发送中"])
    agent.evaluate("() => window.dispatchEvent(new Event('online'))")  # the network is back
    expect(agent.locator(".pill")).to_have_text("已连接")
    expect(agent.locator(".tl-msg .bubble")).to_have_text(["开始", "断线期间的消息", "离线时写的回复"])
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["离线时写的回复"])

    # the customer's link drops the way a network does (the socket closes under it)
    customer.evaluate("() => window.kefuChat.socket.drop()")
    send(agent, "回来了吗")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["离线时写的回复", "回来了吗"])
    stored = admin.ok("GET", f"/api/sessions/{kehu_id}:{kefu_id}/messages")["messages"]
    assert [m["content"] for m in stored] == ["开始", "断线期间的消息", "离线时写的回复", "回来了吗"]


def test_customer_reload_keeps_the_conversation(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "客服小李")
    _, customer = pages.customer("会刷新的客户")
    send(customer, "刷新前")
    agent.locator(".customer", has_text="会刷新的客户").click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["刷新前"])
    send(agent, "收到")
    expect(customer.locator(".tl-msg .bubble")).to_have_text(["刷新前", "收到"])
    customer.reload()
    expect(customer.locator(".chat-sub")).to_have_text("客服「客服小李」为您服务")
    expect(customer.locator(".tl-msg .bubble")).to_have_text(["刷新前", "收到"])
    send(customer, "刷新后")
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["刷新前", "刷新后"])
