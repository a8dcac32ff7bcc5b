"""Customer context in the browser (issue 15, item 4): the admin configures the pre-chat
form in the dashboard, a customer fills it in the widget, and the agent who serves it
next sees, in the console's customer panel, its answers and the earlier conversation it
had with another agent (read-only), edits an attribute, and on a phone opens the panel
over the chat and closes it. A user signed in on the embedding site is the same customer,
with its history, in the embedded widget as on its other device."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Pages
from tests.browser.test_admin import admin_page
from tests.helpers import WS, Api, ServerProcess, uid


def test_prechat_answers_and_past_conversations_in_the_agents_panel(
        pages: Pages, admin: Api, server: ServerProcess) -> None:
    dash = admin_page(pages, "widget")
    try:
        expect(dash.locator('[data-std="name"][data-flag="shown"]')).to_be_checked()
        dash.locator('[data-std="email"][data-flag="shown"]').check()
        dash.locator('[data-std="email"][data-flag="required"]').check()
        dash.get_by_role("button", name="添加字段").click()
        row = dash.locator(".wf-fields > li").last
        row.locator("[name=key]").fill("plan")
        row.locator("[name=label_zh]").fill("套餐")
        row.locator("[name=label_en]").fill("Plan")
        row.locator("[name=type]").select_option("select")
        row.locator("[name=options]").fill("基础版，专业版")
        row.locator("[name=required]").check()
        dash.get_by_role("button", name="保存表单").click()
        expect(dash.locator(".toast", has_text="表单已保存")).to_be_visible()

        # the first agent (over its socket) serves the customer first, then ends
        _a_id, a = admin.create_kefu("客服甲")
        ws_a = WS(server.ws_url, a.token)
        ws_a.expect("hello")
        chat = pages.open("/chat", PHONE)
        expect(chat.locator("#prechat-f-plan")).to_be_visible()
        chat.fill("#guest-name", "赵六")
        chat.fill("#prechat-email", "zhao@example.com")
        chat.select_option("#prechat-f-plan", "专业版")
        chat.locator(".welcome button[type=submit]").click()
        sid = ws_a.expect("assigned")["session"]["session_id"]
        ws_a.send(type="message", client_msg_id="a1", content="您好，我是客服甲", session_id=sid)
        ws_a.expect("ack")
        expect(chat.locator(".tl-msg.theirs .bubble")).to_have_text(["您好，我是客服甲"])
        a.ok("POST", f"/api/sessions/{sid}/end")
        ws_a.close()

        # it comes back and the second agent gets it: the panel has the whole picture
        _b_id, _b_api, b = pages.agent(admin, "客服乙")
        chat.get_by_role("button", name="再次咨询").click()
        b.locator(".customer", has_text="赵六").click()
        panel = b.locator(".customer-panel")
        expect(panel.locator(".cp-name")).to_have_text("赵六")
        expect(panel.locator(".cp-fields")).to_contain_text("zhao@example.com")
        expect(panel.locator(".cp-fields")).to_contain_text("套餐专业版")
        expect(panel.locator(".cp-identity")).to_have_text("匿名访客（未验证身份）")
        sessions = panel.locator(".cp-session")
        expect(sessions).to_have_count(2)
        expect(sessions.nth(0)).to_contain_text("客服乙")
        expect(sessions.nth(1)).to_contain_text("客服甲")
        sessions.nth(1).click()
        expect(panel.locator(".cp-transcript .bubble")).to_have_text(["您好，我是客服甲"])
        panel.locator(".cp-attr-key").fill("vip")
        panel.locator(".cp-attr-value").fill("金卡")
        panel.locator(".cp-attr-value").press("Enter")
        expect(panel.locator(".cp-attrs li")).to_contain_text(["vip金卡"])

        # on a phone the panel opens over the chat, from the chat's header, and closes
        b.set_viewport_size(PHONE)
        b.locator(".cp-close").click()
        expect(panel).to_be_hidden()
        b.locator(".cp-toggle").click()
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box is not None and box["width"] == PHONE["width"]
        b.locator(".cp-close").click()
        expect(b.locator(".composer-input")).to_be_visible()
    finally:
        admin.ok("PUT", "/api/widget/form", {})


@contextmanager
def host_page(html: str) -> Iterator[str]:
    """The embedding site: a page of its own origin (another port on the loopback)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/shop"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_signed_in_site_user_is_the_same_customer_in_the_embedded_widget(
        pages: Pages, admin: Api, server: ServerProcess) -> None:
    made = admin.ok("POST", "/api/widget/sites", {"name": "商城"})
    site, secret = made["site"]["id"], made["secret"]
    user_id = uid("member")
    user_hash = hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    try:
        # on its phone (another device) the user asked something earlier
        phone = Api(server.base).ok("POST", "/api/auth/identify", {
            "site": site, "user_id": user_id, "user_hash": user_hash, "name": "会员小王"})
        kehu_id = phone["user"]["id"]
        kefu_id, _kefu = admin.create_kefu("客服丙")
        ws = WS(server.ws_url, phone["token"])
        ws.expect("hello")
        sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})[
            "session_id"]
        ws.send(type="message", client_msg_id="p1", content="手机上问过的问题")
        ws.expect("ack")
        ws.close()
        admin.ok("POST", f"/api/sessions/{sid}/end")

        # the site's page embeds the widget with the user's signed identity
        page = pages.context().new_page()
        page.on("pageerror", lambda exc: pages.errors.append(f"host page: {exc}"))
        html = (f'<!doctype html><title>商城</title><script src="{server.base}/chat/embed.js" '
                f'data-open="true" data-site="{site}" data-user-id="{user_id}" '
                f'data-user-hash="{user_hash}"></script>')
        with host_page(html) as host:
            page.goto(host)
            widget = page.frame_locator("iframe")
            expect(widget.locator(".tl-msg.mine .bubble")).to_have_text(["手机上问过的问题"])
            frame = next(f for f in page.frames if "/chat?embed=1" in f.url)
            assert frame.evaluate("() => window.kefuChat.me.id") == kehu_id
            expect(widget.locator(".welcome")).to_be_hidden()
    finally:
        admin.ok("DELETE", f"/api/widget/sites/{site}")
