"""Issue 15's bugs in the agent workspace, each seen in a browser: a toast never sits over
the message box (nor catches clicks), 接入 is disabled while the agent is full, a
transferred-out chat does not say it ended, and signing out mid-chat asks first."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Pages
from tests.helpers import Api, uid


def test_toasts_take_no_clicks_take_is_off_when_full_and_sign_out_asks(
        pages: Pages, admin: Api) -> None:
    a_id, _, a = pages.agent(admin, "一个座位的客服", max_sessions=1)
    _, first = pages.customer("先到的客户")
    expect(a.locator(".customer", has_text="先到的客户")).to_be_visible()
    _, second = pages.customer("排队的客户")  # a is full: it waits
    row = a.locator(".queue-item", has_text="排队的客户")
    expect(row.get_by_role("button", name="接入")).to_be_disabled()
    expect(row.get_by_role("button", name="接入")).to_have_attribute("title", "您的接待已满")

    b_id, _, b = pages.agent(admin, "接手的客服")  # it has room: the waiting one is its
    expect(b.locator(".customer", has_text="排队的客户")).to_be_visible()
    sid = admin.ok("GET", f"/api/kefu/{a_id}/customers")["customers"][0]["session_id"]
    admin.ok("POST", f"/api/sessions/{sid}/transfer", {"to_kefu_id": b_id})
    toast = b.locator(".toast", has_text="已转接给您")
    expect(toast).to_be_visible()
    # while the toast shows, the message box is what a click there hits
    hit = b.evaluate("""() => { const r = document.querySelector('.composer-input')
        .getBoundingClientRect(); const el = document.elementFromPoint(
        r.left + r.width / 2, r.top + r.height / 2); return el && el.className; }""")
    assert "composer-input" in hit, hit
    b.locator(".composer-input").click()
    b.keyboard.type("马上处理")
    expect(b.locator(".composer-input")).to_have_value("马上处理")
    # the agent that handed it on: not "ended"
    a.locator(".customer", has_text="先到的客户").click()
    expect(a.locator(".composer-input")).to_have_attribute("placeholder", "会话已转接给其他客服")

    b.get_by_role("button", name="退出登录").click()
    dialog = b.locator("dialog")
    expect(dialog).to_contain_text("您还有 2 位客户在会话中")
    dialog.get_by_role("button", name="取消").click()
    expect(b.locator(".pill.link-open")).to_be_visible()  # still signed in


def test_an_ended_chat_reloads_with_its_read_marks_and_its_end(pages: Pages,
                                                               admin: Api) -> None:
    kefu_id, kefu, agent = pages.agent(admin, "读过的客服")
    kehu_id, customer = pages.customer("刷新的客户")
    customer.fill(".composer-input", "你好")
    customer.locator(".composer-input").press("Enter")
    agent.locator(".customer", has_text="刷新的客户").click()  # the agent reads it
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["已读"])
    kefu.ok("POST", f"/api/sessions/{kehu_id}:{kefu_id}/end")
    ended = customer.locator(".tl-sys", has_text="会话已结束")
    expect(ended).to_have_count(1)
    customer.reload()  # issue 15: the marks turned back to 未读 and the end line went
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["已读"])
    expect(ended).to_have_count(1)


def test_the_console_says_the_link_is_down_when_the_network_goes(pages: Pages,
                                                                 admin: Api) -> None:
    """Issue 15: it said 已连接 with the network down (still after 45 s)."""
    _, _, agent = pages.agent(admin, "断网的客服")
    pill = agent.locator(".pill")
    expect(pill).to_have_text("已连接")
    agent.context.set_offline(True)
    expect(pill).to_have_text("连接中断，正在重连…", timeout=5000)
    agent.context.set_offline(False)
    expect(pill).to_have_text("已连接")


def test_a_canned_response_from_the_slash_shortcut(pages: Pages, admin: Api) -> None:
    """Issue 15, item 2: "/" and a few letters list the canned responses; Enter puts one
    in the box with the customer's and the agent's names filled in."""
    tag = uid("s").lower()[:12]
    made = admin.ok("POST", "/api/canned-responses", {
        "shortcut": f"hi{tag}", "title": "问候",
        "content": "{customer_name}您好，我是{agent_name}"})["response"]
    try:
        _, _, agent = pages.agent(admin, "快捷客服")
        _, customer = pages.customer("用快捷回复的客户")
        agent.locator(".customer", has_text="用快捷回复的客户").click()
        box = agent.locator(".composer-input")
        box.click()
        box.type(f"/hi{tag[:4]}")
        pop = agent.locator(".canned-pop")
        expect(pop.locator(".canned-item", has_text=f"/hi{tag}")).to_be_visible()
        box.press("Enter")  # picks it; does not send "/hi…"
        expect(pop).to_be_hidden()
        expect(box).to_have_value("用快捷回复的客户您好，我是快捷客服")
        box.press("Enter")
        expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(
            ["用快捷回复的客户您好，我是快捷客服"])
    finally:
        admin.call("DELETE", f"/api/canned-responses/{made['id']}")


def test_a_private_note_shows_to_agents_and_never_to_the_customer(pages: Pages,
                                                                  admin: Api) -> None:
    _, _, agent = pages.agent(admin, "写备注的客服")
    _, customer = pages.customer("看不到备注的客户")
    customer.fill(".composer-input", "在吗")
    customer.locator(".composer-input").press("Enter")
    agent.locator(".customer", has_text="看不到备注的客户").click()
    agent.get_by_role("button", name="备注", exact=True).click()
    box = agent.locator(".composer-input")
    box.fill("这位客户需要优先处理")
    box.press("Enter")
    expect(agent.locator(".tl-sys", has_text="内部备注（写备注的客服）：这位客户需要优先处理")).to_have_count(1)
    agent.get_by_role("button", name="备注", exact=True).click()  # back to messages
    box.fill("您好，在的")
    box.press("Enter")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["您好，在的"])
    expect(customer.locator("text=这位客户需要优先处理")).to_have_count(0)
    agent.reload()  # the note is kept (REST), not only in the page
    agent.locator(".customer", has_text="看不到备注的客户").click()
    expect(agent.locator(".tl-sys", has_text="这位客户需要优先处理")).to_have_count(1)
