"""Teams in the browser (issue 14, item 1): the customer picks a team before the chat and
is served by that team; the agent transfers the chat to another team from the console and
that team's agent gets it with its history."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Pages
from tests.helpers import Api, uid


def test_pre_chat_team_choice_and_a_transfer_to_a_team(pages: Pages, admin: Api) -> None:
    a_id, _, a = pages.agent(admin, "售前客服")
    b_id, _, b = pages.agent(admin, "售后客服")
    made = []
    try:
        for name, member in (("售前咨询", a_id), ("售后服务", b_id)):
            team_id = uid("team").lower()[:30]
            admin.ok("POST", "/api/teams", {"id": team_id, "name": name})
            admin.ok("PUT", f"/api/teams/{team_id}/members/{member}", {"skill": 3})
            made.append(team_id)
        sales, _support = made

        page = pages.open("/chat", PHONE)
        page.fill("#guest-name", "选组的客户")
        page.select_option("#guest-team", label="售后服务")  # both agents have room
        page.locator(".welcome button[type=submit]").click()
        expect(page.locator(".chat-sub")).to_have_text("客服「售后客服」为您服务")
        page.fill(".composer-input", "我要退货")
        page.locator(".composer-input").press("Enter")

        b.locator(".customer", has_text="选组的客户").click()
        expect(b.locator(".tl-msg.theirs .bubble")).to_have_text(["我要退货"])
        b.get_by_role("button", name="转接", exact=True).click()
        dialog = b.locator("dialog")
        dialog.locator("select[name=to]").select_option(f"team:{sales}")
        dialog.locator("input[name=reason]").fill("先确认订单")
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_have_count(0)

        expect(page.locator(".chat-sub")).to_have_text("客服「售前客服」为您服务")
        expect(b.locator(".tl-sys", has_text="已转接到其他团队")).to_have_count(1)
        a.locator(".customer", has_text="选组的客户").click()
        # the new team's agent sees what was said before the transfer
        expect(a.locator(".timeline .tl-divider").first).to_contain_text("之前的会话 · 售后客服")
        expect(a.locator(".timeline .tl-msg .bubble")).to_have_text(["我要退货"])
    finally:
        for team_id in made:
            admin.call("DELETE", f"/api/teams/{team_id}")


def test_agent_accepts_an_offer_from_the_console(pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "接单客服")
    team_id = uid("offer").lower()[:30]
    admin.ok("POST", "/api/teams", {"id": team_id, "name": "预约咨询", "assignment": "offer",
                                    "offer_seconds": 120})
    try:
        admin.ok("PUT", f"/api/teams/{team_id}/members/{kefu_id}", {"skill": 3})
        page = pages.open(f"/chat?team={team_id}", PHONE)  # as data-team="…" frames it
        expect(page.locator(".welcome-team")).to_be_hidden()  # the site chose the team
        page.fill("#guest-name", "等接通的客户")
        page.locator(".welcome button[type=submit]").click()
        expect(page.locator(".chat-sub")).to_have_text("正在为您接通客服…")

        card = agent.locator(".offer-item", has_text="等接通的客户")
        expect(card).to_contain_text("剩 ")
        expect(agent.locator(".offers h2")).to_have_text("待接受")
        card.get_by_role("button", name="接受").click()
        expect(agent.locator(".offers")).to_be_hidden()
        expect(page.locator(".chat-sub")).to_have_text("客服「接单客服」为您服务")
        expect(agent.locator(".customer", has_text="等接通的客户")).to_be_visible()
    finally:
        admin.call("DELETE", f"/api/teams/{team_id}")


def test_outside_business_hours_a_message_is_left_and_the_reply_read_later(
        pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "值班客服")
    team_id = uid("night").lower()[:30]
    admin.ok("POST", "/api/teams", {"id": team_id, "name": "夜间咨询",
                                    "hours": {"timezone": "Asia/Shanghai", "weekly": {}}})
    try:
        admin.ok("PUT", f"/api/teams/{team_id}/members/{kefu_id}", {"skill": 3})
        page = pages.open(f"/chat?team={team_id}", PHONE)
        page.fill("#guest-name", "留言的客户")
        page.locator(".welcome button[type=submit]").click()
        form = page.locator(".leave-form")
        expect(form).to_contain_text("现在不在服务时间")
        expect(page.locator(".composer")).to_be_hidden()
        form.locator("textarea[name=content]").fill("发票开错了，请联系我")
        form.locator("input[name=email]").fill("kehu@example.com")
        form.get_by_role("button", name="提交留言").click()
        expect(page.locator(".left-list")).to_contain_text("留言已收到")
        expect(page.locator(".left-pending")).to_have_text("等待回复")

        item = agent.locator(".left-item", has_text="留言的客户")
        expect(item).to_contain_text("发票开错了")
        item.get_by_role("button", name="回复").click()
        dialog = agent.locator("dialog")
        expect(dialog.locator(".left-contact")).to_contain_text("kehu@example.com")
        dialog.locator("textarea[name=content]").fill("已为您重开发票")
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_have_count(0)
        expect(agent.locator(".left-item", has_text="留言的客户")).to_have_count(0)

        page.reload()  # the next time the widget opens, in the same browser
        expect(page.locator(".left-reply")).to_contain_text("值班客服 回复：已为您重开发票")
    finally:
        admin.call("DELETE", f"/api/teams/{team_id}")
