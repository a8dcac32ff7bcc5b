"""An agent (/console) and a customer (/chat) in two browser contexts: messages both
ways, read marks, typing, escaping, unread counts and the tab title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages
from tests.helpers import Api


def send(page: Page, text: str) -> None:
    page.fill(".composer-input", text)
    page.locator(".composer-input").press("Enter")


def bubbles(page: Page, who: str) -> list[str]:
    return page.locator(f".timeline .tl-msg.{who} .bubble").all_inner_texts()


def test_agent_and_customer_chat_both_ways_with_typing_and_read_marks(
        pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "客服小王")
    kehu_id, customer = pages.customer("客户张三")
    expect(customer.locator(".chat-sub")).to_have_text("客服「客服小王」为您服务")

    send(customer, "你好，我想咨询一下产品信息")
    item = agent.locator(".customer", has_text="客户张三")
    expect(item).to_contain_text("你好，我想咨询一下产品信息")
    item.click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["你好，我想咨询一下产品信息"])
    expect(agent.locator(".chat-title")).to_have_text("客户张三")
    # the agent opened the conversation: the customer's message shows as read
    expect(customer.locator(".tl-msg.mine .tl-state")).to_have_text(["已读"])

    customer.locator(".composer-input").press_sequentially("在吗")
    expect(agent.locator(".typing-line")).to_have_text("客户张三 正在输入…")
    customer.fill(".composer-input", "")

    send(agent, "您好，请问有什么可以帮您？")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["您好，请问有什么可以帮您？"])
    expect(customer.locator(".tl-msg.theirs .tl-author")).to_have_text(["客服小王"])
    expect(agent.locator(".tl-msg.mine .tl-state")).to_have_text(["已读"])  # the customer saw it
    # Enter sent it; the composer is empty again and Shift+Enter would add a line instead
    expect(agent.locator(".composer-input")).to_have_value("")

    # both messages are stored once, in order, in the session the server knows
    sid = f"{kehu_id}:{kefu_id}"
    stored = admin.ok("GET", f"/api/sessions/{sid}/messages")["messages"]
    assert [(m["from"], m["content"]) for m in stored] == [
        (kehu_id, "你好，我想咨询一下产品信息"), (kefu_id, "您好，请问有什么可以帮您？")]


def test_a_script_payload_renders_as_text(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "客服安全")
    name = '<img src=x onerror="window.__pwned=1">'
    payload = '<script>window.__pwned=1</script><b onclick="x()">粗体</b>'
    _, customer = pages.customer(name)
    send(customer, payload)
    item = agent.locator(".customer").first
    expect(item.locator(".customer-name")).to_have_text(name)
    item.click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text([payload])
    send(agent, "<i>斜体?</i>")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["<i>斜体?</i>"])
    for page in (agent, customer):
        assert page.evaluate("() => window.__pwned") is None
        expect(page.locator(".timeline script, .timeline b, .timeline i, .timeline img")).to_have_count(0)
        expect(page.locator(".customer-list img")).to_have_count(0)


def test_background_customer_raises_unread_count_and_title(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "客服多任务")
    _, first = pages.customer("第一位")
    _, second = pages.customer("第二位")
    send(first, "第一位的问题")
    send(second, "第二位的问题")
    agent.locator(".customer", has_text="第一位").click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["第一位的问题"])
    # the draft typed for the first customer survives switching away and back
    agent.fill(".composer-input", "草稿：还没写完")

    row = agent.locator(".customer", has_text="第二位")
    expect(row.locator(".badge")).to_have_text("1")
    send(second, "还有一个问题")
    expect(row.locator(".badge")).to_have_text("2")
    expect(agent).to_have_title("(2) 客服工作台")
    # an unanswered customer shows how long it has waited (from its last message's time)
    agent.clock.set_system_time(datetime.now(UTC) + timedelta(minutes=3, seconds=5))
    agent.evaluate("() => window.kefuConsole.view.refresh()")
    expect(row.locator(".customer-wait")).to_have_text("已等待 3分钟")

    row.click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text(["第二位的问题", "还有一个问题"])
    expect(row.locator(".badge")).to_have_count(0)
    expect(agent).to_have_title("客服工作台")
    expect(agent.locator(".composer-input")).to_have_value("")
    agent.locator(".customer", has_text="第一位").click()
    expect(agent.locator(".composer-input")).to_have_value("草稿：还没写完")


def test_an_image_link_is_sent_from_the_dialog_and_shown(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "客服图片")
    _, customer = pages.customer("看图的客户")
    send(customer, "请发一张图")
    agent.locator(".customer", has_text="看图的客户").click()
    agent.get_by_role("button", name="链接", exact=True).click()
    dialog = agent.locator("dialog")
    dialog.locator("select[name=type]").select_option("Image")
    dialog.locator("input[name=url]").fill("javascript:alert(1)")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".form-error")).to_have_text("请输入 http:// 或 https:// 开头的地址")
    dialog.locator("input[name=url]").fill("https://example.com/p.png")
    dialog.locator("input[name=title]").fill("产品图")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_have_count(0)
    image = customer.locator(".tl-msg.theirs .msg-image")
    expect(image).to_have_attribute("href", "https://example.com/p.png")
    expect(image.locator("img")).to_have_attribute("alt", "产品图")
