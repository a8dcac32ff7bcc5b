"""The operator dashboard (/console/admin) in the browser: sign-in, live overview, session
search with transcript, users, actors (restart), maintenance, backups."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages
from tests.helpers import Api


def admin_page(pages: Pages, section: str = "") -> Page:
    page = pages.open("/console/admin" + (f"#{section}" if section else ""))
    page.fill("#login-user", "admin")
    page.fill("#login-password", "admin-pass")
    page.locator(".login-card button[type=submit]").click()
    expect(page.locator(".admin-nav .nav-link.active")).to_be_visible()
    return page


def test_only_admins_sign_in(pages: Pages, admin: Api) -> None:
    kefu_id, _ = admin.create_kefu("不是管理员")
    page = pages.open("/console/admin")
    page.fill("#login-user", kefu_id)
    page.fill("#login-password", "pw")
    page.locator(".login-card button[type=submit]").click()
    expect(page.locator(".login-error")).to_have_text("此页面仅供管理员账号使用")
    page.fill("#login-password", "wrong")
    page.locator(".login-card button[type=submit]").click()
    expect(page.locator(".login-error")).to_have_text("用户名或密码错误")


def test_admin_restarts_an_actor_and_the_chat_goes_on(pages: Pages, admin: Api) -> None:
    kefu_id, _, agent = pages.agent(admin, "客服被重启")
    _, customer = pages.customer("重启时的客户")
    page = admin_page(pages, "system")
    row = page.locator("tr", has=page.locator(f"code:text-is('agent:{kefu_id}')"))
    expect(row).to_contain_text("运行中")
    row.get_by_role("button", name="重启").click()
    page.locator("dialog button[type=submit]").click()
    expect(page.locator(".toast")).to_contain_text(f"agent:{kefu_id} 已重启")
    expect(row.locator("td").nth(4)).to_have_text("1")
    actor = next(a for a in admin.ok("GET", "/api/system/actors")["actors"]
                 if a["actor_id"] == f"agent:{kefu_id}")
    assert (actor["restarts"], actor["state"]) == (1, "running")
    customer.fill(".composer-input", "重启后还能聊吗")
    customer.locator(".composer-input").press("Enter")
    expect(agent.locator(".customer", has_text="重启时的客户")).to_contain_text("重启后还能聊吗")


def test_overview_search_transcript_users_maintenance_backups(pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "客服看板")
    kehu_id, customer = pages.customer("看板的客户")
    customer.fill(".composer-input", "关于退款 <查询>")
    customer.locator(".composer-input").press("Enter")
    expect(agent.locator(".customer", has_text="看板的客户")).to_be_visible()
    page = admin_page(pages)

    live = admin.ok("GET", "/api/analytics/overview")
    card = page.locator(".stat", has_text="进行中会话")
    expect(card.locator(".stat-value")).to_have_text(str(live["active_sessions"]))
    expect(page.locator(".chart-svg")).to_have_count(2)
    expect(page.locator("table", has_text="客服看板")).to_contain_text("1 / 5")

    page.locator(".nav-link", has_text="会话").click()
    page.fill("input[name=keyword]", "退款 <查询")
    page.get_by_role("button", name="搜索").click()
    hit = page.locator("tbody tr", has_text="关于退款 <查询>")
    expect(hit).to_have_count(1)
    hit.get_by_role("button", name="查看").click()
    transcript = page.locator(".transcript")
    expect(transcript.locator(".tl-msg .bubble")).to_have_text(["关于退款 <查询>"])
    expect(page.locator(".facts").first).to_contain_text(kehu_id)
    # why this agent: the strategy's rule and the chosen candidate (the routing panel)
    routing = page.locator(".routing-panel")
    expect(routing.locator(".facts")).to_contain_text("分配策略")
    expect(routing.locator("table[aria-label=候选客服] strong")).to_have_count(1)

    page.locator(".nav-link", has_text="用户").click()
    page.get_by_role("button", name="新建用户").click()
    dialog = page.locator("dialog")
    dialog.locator("input[name=id]").fill("kefu_from_ui")
    dialog.locator("input[name=name]").fill("界面创建的客服")
    dialog.locator("input[name=password]").fill("secret")
    dialog.locator("button[type=submit]").click()
    expect(page.locator(".toast", has_text="已创建用户 kefu_from_ui")).to_be_visible()
    assert admin.ok("GET", "/api/users/kefu_from_ui")["user"]["name"] == "界面创建的客服"
    Api.login(admin.base, "kefu_from_ui", "secret")  # the password works
    row = page.locator("tbody tr", has=page.locator("code:text-is('kefu_from_ui')"))
    row.get_by_role("button", name="编辑").click()
    dialog.locator("input[name=name]").fill("改过名的客服")
    dialog.locator("input[name=max_sessions]").fill("8")
    dialog.locator("button[type=submit]").click()
    expect(row).to_contain_text("改过名的客服")
    user = admin.ok("GET", "/api/users/kefu_from_ui")["user"]
    assert (user["name"], user["max_sessions"]) == ("改过名的客服", 8)
    row.get_by_role("button", name="删除").click()
    page.locator("dialog button[type=submit]").click()
    expect(row).to_have_count(0)
    assert admin.call("GET", "/api/users/kefu_from_ui").status_code == 404

    page.locator(".nav-link", has_text="系统").click()
    page.locator("#maint-on").check()
    page.fill("#maint-msg", "升级中，十分钟后恢复")
    page.locator(".maint-form button[type=submit]").click()
    expect(page.locator(".maint-form")).to_contain_text("维护中")
    assert admin.ok("GET", "/api/system/maintenance")["message"] == "升级中，十分钟后恢复"
    guest = pages.open("/chat")  # told before pressing 开始咨询 (issue 15), not after
    expect(guest.locator(".maintenance-notice")).to_have_text("升级中，十分钟后恢复")
    expect(guest.locator(".welcome button[type=submit]")).to_be_disabled()
    page.locator("#maint-on").uncheck()
    page.locator(".maint-form button[type=submit]").click()
    expect(page.locator(".maint-form")).to_contain_text("正常服务")

    page.get_by_role("button", name="立即备份").click()
    expect(page.locator(".toast", has_text="备份完成")).to_be_visible()
    backup = admin.ok("GET", "/api/system/backups")["backups"][0]["name"]
    row = page.locator("tr", has_text=backup)
    with page.expect_download() as info:
        row.get_by_role("button", name="下载").click()
    assert info.value.suggested_filename == backup


def test_the_dashboard_follows_pushed_figures_without_polling(pages: Pages, admin: Api) -> None:
    """The overview reads REST at start and every 30 s; within the 10 s the checks wait,
    only the pushed ``workload`` and ``waiting`` frames can show what happens after."""
    page = admin_page(pages)
    expect(page.locator(".stat", has_text="进行中会话")).to_be_visible()
    page.wait_for_function("() => window.kefuAdminSocket && window.kefuAdminSocket.ready")
    _, _, agent = pages.agent(admin, "推送客服")
    row = page.locator("tbody tr", has_text="推送客服")
    expect(row).to_contain_text("0 / 5")  # an agent that did not exist at the last read
    _, customer = pages.customer("推送的客户")
    expect(row).to_contain_text("1 / 5")
    expect(agent.locator(".customer", has_text="推送的客户")).to_be_visible()


def test_canned_responses_are_managed_in_the_dashboard(pages: Pages, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu("用回复的客服")
    page = admin_page(pages, "canned")
    shortcut = f"ship{kefu_id[-6:]}"
    page.fill("input[name=shortcut]", shortcut)
    page.fill("textarea[name=content]", "{customer_name}，您的包裹已发出")
    page.get_by_role("button", name="添加快捷回复").click()
    row = page.locator("tbody tr", has_text=f"/{shortcut}")
    expect(row).to_contain_text("所有客服")
    used = [c for c in kefu.ok("GET", "/api/canned-responses")["responses"]
            if c["shortcut"] == shortcut]
    assert [c["content"] for c in used] == ["{customer_name}，您的包裹已发出"]  # agents get it
    row.get_by_role("button", name="删除").click()
    page.locator("dialog button[type=submit]").click()
    expect(row).to_have_count(0)
    assert not [c for c in kefu.ok("GET", "/api/canned-responses")["responses"]
                if c["shortcut"] == shortcut]
