"""Screenshots of the three pages for docs/ui.md and the README (docs/screenshots/).

Runs only with ``KEFU_SCREENSHOTS=1``: ``KEFU_SCREENSHOTS=1 .venv/bin/python -m pytest
tests/browser/test_screenshots.py``. It builds a small, realistic scene (an agent with
three customers, two more waiting with priorities) and checks what it shows before each
shot, so a broken page cannot produce a picture.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, Pages
from tests.browser.test_admin import admin_page
from tests.helpers import WS, Api, ServerProcess

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(os.environ.get("KEFU_SCREENSHOTS") != "1",
                                reason="set KEFU_SCREENSHOTS=1 to write docs/screenshots/")


# a one-page PDF (the type is read from its bytes: %PDF-)
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def photo() -> bytes:
    """A product photo stand-in: a white earbud on a soft gradient (PNG, 480×320)."""
    img = Image.new("RGB", (480, 320))
    draw = ImageDraw.Draw(img)
    for y in range(320):
        draw.line([(0, y), (480, y)], fill=(214 - y // 8, 226 - y // 10, 240 - y // 12))
    draw.ellipse((170, 90, 290, 210), fill=(250, 250, 250), outline=(180, 186, 196), width=4)
    draw.rounded_rectangle((262, 170, 300, 290), radius=18, fill=(246, 246, 246),
                           outline=(180, 186, 196), width=4)
    draw.ellipse((205, 125, 255, 175), fill=(60, 64, 72))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def send(page: Page, text: str) -> None:
    page.fill(".composer-input", text)
    page.locator(".composer-input").press("Enter")


def test_screenshots(pages: Pages, admin: Api, server: ServerProcess) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    kefu_id, _, agent = pages.agent(admin, "客服小王", max_sessions=3)
    zhang_id, zhang = pages.customer("张女士")
    _, li = pages.customer("李先生", viewport={"width": 800, "height": 600})
    _, wang = pages.customer("王同学", viewport={"width": 800, "height": 600})

    admin.ok("PUT", f"/api/customers/{zhang_id}/attributes",
             {"attributes": {"plan": "专业版", "orders": 12, "city": "杭州"}})
    send(zhang, "你好，我上周买的蓝牙耳机左边没有声音")
    agent.locator(".customer", has_text="张女士").click()
    expect(agent.locator(".tl-msg.theirs")).to_have_count(1)
    send(agent, "您好，很抱歉给您带来不便。请提供一下订单号，我帮您查询。")
    expect(zhang.locator(".tl-msg.theirs")).to_have_count(1)
    send(zhang, "订单号是 20261124-0832")
    expect(agent.locator(".tl-msg.theirs")).to_have_count(2)
    zhang.locator(".attach-picker").set_input_files(  # a real upload (issue 15)
        {"name": "耳机照片.png", "mimeType": "image/png", "buffer": photo()})
    expect(agent.locator(".tl-msg.theirs .msg-upload-image img")).to_have_attribute(
        "src", re.compile("^blob:"))
    send(agent, "查到了，这款耳机在保修期内，可以为您免费换新。")
    agent.locator(".attach-picker").set_input_files(
        {"name": "换货申请表.pdf", "mimeType": "application/pdf", "buffer": PDF})
    expect(zhang.locator(".tl-msg.theirs .msg-file-card")).to_have_count(1)
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

    # the customer panel (open beside the chat at this width): the attributes the
    # shop's site passed, the conversation; picking the customer again reads it afresh
    agent.locator(".customer", has_text="张女士").click()
    expect(agent.locator(".customer-panel .cp-name")).to_have_text("张女士")
    expect(agent.locator(".customer-panel .cp-attrs li")).to_have_count(3)
    expect(agent.locator(".customer-panel .cp-session")).to_contain_text("6 条消息")
    agent.screenshot(path=OUT / "customer-panel.png")

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

    # the pre-chat form and the sites, in the dashboard and in the widget
    form = {"email": {"shown": True, "required": True}, "phone": {"shown": True},
            "fields": [{"key": "topic", "label_zh": "咨询类型", "label_en": "Topic",
                        "type": "select", "options": ["售前咨询", "售后服务", "发票"],
                        "required": True}]}
    try:
        admin.ok("PUT", "/api/widget/form", form)
        admin.ok("POST", "/api/widget/sites", {"name": "官方商城"})
        prechat = pages.open("/chat", PHONE)
        expect(prechat.locator("#prechat-f-topic")).to_be_visible()
        prechat.screenshot(path=OUT / "chat-prechat.png")
        widget = admin_page(pages, "widget")
        expect(widget.locator(".wf-fields > li")).to_have_count(1)
        expect(widget.get_by_text("官方商城")).to_be_visible()
        widget.screenshot(path=OUT / "admin-widget.png")
    finally:
        admin.ok("PUT", "/api/widget/form", {})

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
