"""Issue 15, items 3, 5 and 6 in the browser: the agent tags a chat and finds it by tag in
the dashboard and by keyword in its console's search; the customer ends the chat,
downloads the transcript and, back later, sees its earlier conversation above the new
one; a hidden console notifies (desktop and sound) and stays silent when switched off."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, Pages
from tests.browser.test_admin import admin_page
from tests.helpers import Api, uid

# Records desktop notifications and Web Audio tones, and lets the test hide the tab.
RECORDER = """
(() => {
  window.__notes = [];
  window.__tones = 0;
  class RecordedNotification {
    constructor(title, options) {
      this.title = title;
      this.options = options || {};
      this.onclick = null;
      window.__notes.push(this);
    }
    close() {}
    static get permission() { return "granted"; }
    static requestPermission() { return Promise.resolve("granted"); }
  }
  window.Notification = RecordedNotification;
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    createOscillator() { window.__tones += 1; return super.createOscillator(); }
  };
  window.__hide = (hidden) => {
    Object.defineProperty(document, "visibilityState", { configurable: true,
      get: () => (hidden ? "hidden" : "visible") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""


def send(page: Page, text: str) -> None:
    page.fill(".composer-input", text)
    page.locator(".composer-input").press("Enter")


def test_the_agent_tags_a_chat_finds_it_by_tag_and_searches_its_own(
        pages: Pages, admin: Api) -> None:
    word = uid("发票").replace("_", "")
    kefu_id, _, agent = pages.agent(admin, "打标签的客服")
    kehu_id, customer = pages.customer("要发票的客户")
    send(customer, f"我要开{word}")
    agent.locator(".customer", has_text="要发票的客户").click()
    expect(agent.locator(".tl-msg.theirs .bubble")).to_have_text([f"我要开{word}"])

    # tags by keyboard: type, Enter; a second one, then Backspace on the empty box drops it
    tags = agent.locator(".tag-input")
    tags.fill(f"VIP {word}")
    tags.press("Enter")
    chip = f"vip-{word}"
    expect(agent.locator(".tag-chip")).to_have_text([f"{chip}×"])
    tags.fill("退款")
    tags.press("Enter")
    expect(agent.locator(".tag-chip")).to_have_count(2)
    tags.press("Backspace")
    expect(agent.locator(".tag-chip")).to_have_count(1)
    sid = f"{kehu_id}:{kefu_id}"
    assert admin.ok("GET", f"/api/sessions/{sid}/tags")["tags"] == [chip]

    # the console's search: the keyword finds the conversation; it opens read-only
    agent.get_by_role("button", name="搜索").click()
    dialog = agent.locator("dialog.search-dialog")
    dialog.get_by_placeholder("关键词").fill(word)
    dialog.get_by_placeholder("关键词").press("Enter")
    hit = dialog.locator(".search-hit")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("要发票的客户")
    expect(hit).to_contain_text(f"我要开{word}")
    hit.click()
    expect(dialog.locator(".search-viewer .tl-msg .bubble")).to_have_text([f"我要开{word}"])
    expect(dialog.locator(".search-viewer .composer-input")).to_have_count(0)  # read-only
    dialog.get_by_role("button", name="关闭").click()

    # the dashboard: the session search filtered by the tag (another, untagged, is left out)
    other_id, _ = admin.guest("没标签的客户")
    admin.ok("POST", f"/api/customer/{other_id}/assign", {"kefu_id": kefu_id})
    dash = admin_page(pages, "sessions")
    expect(dash.locator(".table tbody tr", has_text="没标签的客户")).to_be_visible()
    dash.locator("input[name=tag]").fill(chip)
    dash.get_by_role("button", name="搜索").click()
    rows = dash.locator(".table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(sid)
    expect(rows.first.locator(".tag-chip")).to_have_text([chip])


def test_the_customer_ends_downloads_and_comes_back_to_its_earlier_chat(
        pages: Pages, admin: Api) -> None:
    _, _, agent = pages.agent(admin, "被结束的客服")
    _, customer = pages.customer("回头的客户", PHONE)
    send(customer, "上次的问题")
    agent.locator(".customer", has_text="回头的客户").click()
    send(agent, "已为您处理")
    expect(customer.locator(".tl-msg.theirs .bubble")).to_have_text(["已为您处理"])

    customer.get_by_role("button", name="结束对话").click()
    customer.locator("dialog").get_by_role("button", name="确定").click()
    expect(agent.locator(".tl-sys", has_text="客户结束了会话")).to_be_visible()
    expect(customer.get_by_role("button", name="结束对话")).to_be_hidden()

    with customer.expect_download() as got:
        customer.get_by_role("button", name="下载聊天记录").click()
    text = Path(got.value.path()).read_text(encoding="utf-8")
    assert "上次的问题" in text and "已为您处理" in text and "回头的客户" in text

    # back later, in the same browser: the earlier conversation, under when it was
    customer.reload()
    expect(customer.locator(".tl-divider")).to_have_count(1)
    expect(customer.locator(".tl-divider").first).to_contain_text("以往对话")
    expect(customer.locator(".tl-msg .bubble")).to_have_text(["上次的问题", "已为您处理"])
    customer.get_by_role("button", name="再次咨询").click()
    expect(customer.locator(".tl-divider")).to_have_count(2)
    expect(customer.locator(".tl-divider").last).to_have_text("本次对话")
    send(customer, "又来了")
    expect(customer.locator(".tl-msg .bubble")).to_have_text(["上次的问题", "已为您处理", "又来了"])


def hidden_agent(pages: Pages, admin: Api) -> tuple[str, Page]:
    """A new agent on /console with notifications granted, recorded, and a tab it can hide."""
    kefu_id, api = admin.create_kefu("后台的客服")
    user = api.ok("GET", f"/api/users/{kefu_id}")["user"]
    ctx = pages.context()
    ctx.grant_permissions(["notifications"], origin=pages.base)
    ctx.add_init_script(RECORDER)
    ctx.add_init_script("localStorage.setItem('kefu.console.auth', "
                        + json.dumps(json.dumps({"token": api.token, "user": user})) + ");")
    page = ctx.new_page()
    page.on("pageerror", lambda exc: pages.errors.append(f"/console: {exc}"))
    page.goto(pages.base + "/console")
    expect(page.locator(".pill.link-open")).to_be_visible()
    return kefu_id, page


def test_a_hidden_console_notifies_and_is_silent_when_switched_off(
        pages: Pages, admin: Api) -> None:
    kefu_id, agent = hidden_agent(pages, admin)
    agent.locator(".composer-input, .chat-empty").first.click()  # a gesture: sound may play
    agent.evaluate("() => window.__hide(true)")

    kehu_id, customer = pages.customer("夜里的客户")
    agent.wait_for_function("() => window.__notes.length === 1 && window.__tones > 0")
    assert agent.evaluate("() => window.__notes[0].title") == "新客户：夜里的客户"
    tones = agent.evaluate("() => window.__tones")
    send(customer, "有人吗")
    agent.wait_for_function(f"() => window.__notes.length === 2 && window.__tones > {tones}")
    note = agent.evaluate("() => [window.__notes[1].title, window.__notes[1].options.body]")
    assert note == ["夜里的客户 发来消息", "有人吗"]
    # clicking it brings that customer forward
    agent.evaluate("() => window.__notes[1].onclick()")
    sid = f"{kehu_id}:{kefu_id}"
    assert agent.evaluate("() => window.kefuConsole.focus") == sid

    # switched off (by keyboard, in the header's menu): silence, and it is remembered
    agent.evaluate("() => window.__hide(false)")
    agent.get_by_role("button", name="通知设置").click()
    menu = agent.locator("#notify-panel")
    expect(menu.get_by_label("提示音")).to_be_focused()
    agent.keyboard.press("Space")
    expect(menu.get_by_label("提示音")).not_to_be_checked()
    expect(menu.get_by_label("桌面通知")).to_be_checked()  # granted: on by default
    menu.get_by_label("桌面通知").uncheck()
    agent.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    stored = agent.evaluate(f"() => JSON.parse(localStorage.getItem('kefu.console.notify.{kefu_id}'))")
    assert stored == {"sound": False, "desktop": False}
    agent.evaluate("() => window.__hide(true)")
    # (forget the chime's once-a-second limit: only the switch may keep it silent)
    tones = agent.evaluate("() => { window.kefuConsole.notifier.lastBeep.clear(); return window.__tones; }")
    send(customer, "还在吗")
    # the message is in the workspace: the notifier has already had its say
    agent.wait_for_function(
        f"() => [...window.kefuConsole.convs.get('{sid}').messages.values()]"
        ".some((m) => m.content === '还在吗')")
    assert agent.evaluate("() => [window.__notes.length, window.__tones]") == [2, tones]
