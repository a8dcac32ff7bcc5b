"""Language, phone width, keyboard use and the one-tag embed."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Pages
from tests.helpers import Api, ServerProcess


def send(page: Page, text: str) -> None:
    page.fill(".composer-input", text)
    page.locator(".composer-input").press("Enter")


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_english_when_the_browser_asks_for_it(pages: Pages, admin: Api) -> None:
    kefu_id, _ = admin.create_kefu("Agent Smith")
    console = pages.open("/console", locale="en-US")
    expect(console.locator(".login-card h1")).to_have_text("Agent sign-in")
    console.fill("#login-user", kefu_id)
    console.fill("#login-password", "nope")
    console.get_by_role("button", name="Sign in").click()
    expect(console.locator(".login-error")).to_have_text("Invalid user id or password")
    console.fill("#login-password", "pw")
    console.get_by_role("button", name="Sign in").click()
    expect(console.locator(".pill")).to_have_text("Connected")
    expect(console).to_have_title("Agent workspace")
    _, customer = pages.customer("Alex", locale="en-US")
    expect(customer.locator(".chat-sub")).to_have_text("You are chatting with Agent Smith")
    expect(customer.locator("html")).to_have_attribute("lang", "en")
    send(customer, "hello")
    expect(console.locator(".customer", has_text="Alex")).to_contain_text("hello")
    # every Chinese text has its English one and the other way round
    missing = console.evaluate("""async () => {
        const zh = (await import('/static/js/i18n-zh.js')).ZH;
        const en = (await import('/static/js/i18n-en.js')).EN;
        return [Object.keys(zh).filter((k) => !(k in en)), Object.keys(en).filter((k) => !(k in zh))];
    }""")
    assert missing == [[], []]


def test_phone_width_console_widget_and_dashboard(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "手机客服", viewport=PHONE)
    _, customer = pages.customer("手机客户")
    send(customer, "手机上能用吗")
    row = agent.locator(".customer", has_text="手机客户")
    expect(row).to_be_visible()
    expect(agent.locator(".chat-pane")).to_be_hidden()
    row.click()
    expect(agent.locator(".chat-pane")).to_be_visible()
    expect(agent.locator(".sidebar")).to_be_hidden()
    send(agent, "可以的")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["可以的"])
    agent.get_by_role("button", name="返回客户列表").click()
    expect(agent.locator(".sidebar")).to_be_visible()
    for page in (agent, customer):
        no_horizontal_scroll(page)

    dash = pages.open("/console/admin", PHONE)
    dash.fill("#login-user", "admin")
    dash.fill("#login-password", "admin-pass")
    dash.locator(".login-card button[type=submit]").click()
    expect(dash.locator(".stat").first).to_be_visible()
    no_horizontal_scroll(dash)


def test_keyboard_only_agent(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "键盘客服")
    _, customer = pages.customer("键盘客户")
    send(customer, "你好")
    row = agent.locator(".customer", has_text="键盘客户")
    expect(row).to_be_visible()
    row.focus()
    agent.keyboard.press("Enter")
    expect(agent.locator(".chat-title")).to_have_text("键盘客户")
    agent.get_by_role("button", name="转接", exact=True).focus()
    agent.keyboard.press("Enter")
    expect(agent.locator("dialog")).to_be_visible()
    agent.keyboard.press("Escape")
    expect(agent.locator("dialog")).to_have_count(0)
    agent.locator(".composer-input").focus()
    agent.keyboard.type("第一行")
    agent.keyboard.press("Shift+Enter")
    agent.keyboard.type("第二行")
    agent.keyboard.press("Enter")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["第一行\n第二行"])


@pytest.fixture()
def shop(tmp_path: Path, server: ServerProcess) -> Iterator[str]:
    """Another website (its own origin, a real HTTP server) whose page only adds the tag."""
    (tmp_path / "shop.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Shop</title><h1>A shop</h1>"
        f'<script src="{server.base}/chat/embed.js" async></script>', encoding="utf-8")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/shop.html"
    httpd.shutdown()
    httpd.server_close()


def test_one_script_tag_embeds_the_widget_on_another_site(pages: Pages, admin: Api,
                                                          shop: str) -> None:
    _, _, agent = pages.agent(admin, "嵌入客服")
    page = pages.context(DESKTOP).new_page()
    page.goto(shop)
    page.get_by_role("button", name="打开在线客服").click()
    widget = page.frame_locator("iframe[title='在线客服']")
    widget.locator("#guest-name").fill("网站访客")
    widget.locator(".welcome button[type=submit]").click()
    expect(widget.locator(".chat-sub")).to_have_text("客服「嵌入客服」为您服务")
    widget.locator(".composer-input").fill("从商店页面发来的")
    widget.locator(".composer-input").press("Enter")
    expect(agent.locator(".customer", has_text="网站访客")).to_contain_text("从商店页面发来的")
    widget.get_by_role("button", name="关闭聊天窗口").click()
    expect(page.locator("iframe[title='在线客服']")).to_be_hidden()
