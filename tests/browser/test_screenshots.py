"""Screenshots of the three pages for docs/ui.md and the README (docs/screenshots/).

Runs only with ``KEFU_SCREENSHOTS=1``: ``KEFU_SCREENSHOTS=1 .venv/bin/python -m pytest
tests/browser/test_screenshots.py``. It builds a small, realistic scene (an agent with
three customers, two more waiting with priorities) and checks what it shows before each
shot, so a broken page cannot produce a picture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, Pages
from tests.helpers import WS, Api, ServerProcess

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(os.environ.get("KEFU_SCREENSHOTS") != "1",
                                reason="set KEFU_SCREENSHOTS=1 to write docs/screenshots/")


def send(page: Page, text: str) -> None:
    page.fill(".composer-input", text)
    page.locator(".composer-input").press("Enter")


def test_screenshots(pages: Pages, admin: Api, server: ServerProcess) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    kefu_id, _, agent = pages.agent(admin, "客服小王", max_sessions=3)
    _, zhang = pages.customer("张女士")
    _, li = pages.customer("李先生", viewport={"width": 800, "height": 600})
    _, wang = pages.customer("王同学", viewport={"width": 800, "height": 600})

    send(zhang, "你好，我上周买的蓝牙耳机左边没有声音")
    agent.locator(".customer", has_text="张女士").click()
    expect(agent.locator(".tl-msg.theirs")).to_have_count(1)
    send(agent, "您好，很抱歉给您带来不便。请提供一下订单号，我帮您查询。")
    expect(zhang.locator(".tl-msg.theirs")).to_have_count(1)
    send(zhang, "订单号是 20261124-0832")
    expect(agent.locator(".tl-msg.theirs")).to_have_count(2)
    send(agent, "查到了，这款耳机在保修期内，可以为您免费换新。")
    agent.get_by_role("button", name="链接", exact=True).click()
    dialog = agent.locator("dialog")
    dialog.locator("select[name=type]").select_option("File")
    dialog.locator("input[name=url]").fill("https://example.com/docs/warranty.pdf")
    dialog.locator("input[name=title]").fill("换货申请表.pdf")
    dialog.locator("button[type=submit]").click()
    expect(zhang.locator(".tl-msg.theirs")).to_have_count(3)
    send(li, "请问可以开具增值税专用发票吗？")
    send(wang, "退货地址是哪里？")
    send(wang, "我今天就想寄出")

    waiting = []
    for name, priority, note in (("赵经理", "high", "企业客户"), ("陈阿姨", "normal", None)):
        _, api = admin.guest(name)
        ws = WS(server.ws_url, api.token)
        ws.expect("hello")
        ws.send(type="request_service", priority=priority, note=note)
        ws.expect("queued")
        waiting.append(ws)

    expect(agent.locator(".queue-item")).to_have_count(2)
    expect(agent.locator(".customer", has_text="王同学").locator(".badge")).to_have_text("2")
    for tag in ("保修", "vip"):  # tags on the conversation (issue 15)
        agent.locator(".tag-input").fill(tag)
        agent.locator(".tag-input").press("Enter")
    expect(agent.locator(".tag-chip")).to_have_count(2)
    zhang.locator(".composer-input").press_sequentially("好的")
    expect(agent.locator(".typing-line")).to_contain_text("正在输入")
    expect(zhang.locator(".tl-msg.mine .tl-state").last).to_have_text("已读")
    agent.screenshot(path=OUT / "console.png")
    zhang.screenshot(path=OUT / "chat.png")

    _, queued = pages.customer("新访客")
    expect(queued.locator(".queue-pos")).to_contain_text("第 3 位")
    queued.screenshot(path=OUT / "chat-queue.png")

    dash = pages.open("/console/admin")
    dash.fill("#login-user", "admin")
    dash.fill("#login-password", "admin-pass")
    dash.locator(".login-card button[type=submit]").click()
    expect(dash.locator(".panel", has_text="排队队列").locator("tbody tr")).to_have_count(3)
    expect(dash.locator(".chart-svg .bar")).not_to_have_count(0)
    dash.screenshot(path=OUT / "admin.png")

    phone = pages.open("/console", PHONE, storage={"kefu.console.auth": agent.evaluate(
        "() => JSON.parse(localStorage.getItem('kefu.console.auth'))")})
    expect(phone.locator(".customer")).to_have_count(3)
    expect(phone.locator(".customer .badge")).to_have_count(2)
    expect(phone.locator(".queue-item")).to_have_count(3)
    phone.screenshot(path=OUT / "console-phone.png")

    # leave nobody waiting: the queued customers are assigned (force) for the teardown
    for row in admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]:
        admin.ok("POST", f"/api/customer/{row['customer_id']}/assign",
                 {"kefu_id": kefu_id, "force": True})
    for ws in waiting:
        ws.close()
