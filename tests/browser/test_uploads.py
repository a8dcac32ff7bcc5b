"""Files and images in the browser (issue 15): the customer pastes a screenshot into the
widget and the agent sees its thumbnail inline and opens it; the agent drops a PDF onto the
conversation and the customer gets a file card it downloads. Two browser contexts."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages
from tests.helpers import Api

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"%" * 3000


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (30, 120, 220)).save(out, "PNG")
    return out.getvalue()


# a DataTransfer holding one file, as the clipboard or a drag hands it to the page
DATA_TRANSFER = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  return dt;
}"""


def paste_file(page: Page, selector: str, data: bytes, name: str, ctype: str) -> None:
    page.evaluate("""([sel, b64, name, type]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type }));
      document.querySelector(sel).dispatchEvent(new ClipboardEvent("paste",
        { clipboardData: dt, bubbles: true, cancelable: true }));
    }""", [selector, base64.b64encode(data).decode(), name, ctype])


def drop_file(page: Page, selector: str, data: bytes, name: str, ctype: str) -> None:
    dt = page.evaluate_handle(DATA_TRANSFER, [base64.b64encode(data).decode(), name, ctype])
    page.dispatch_event(selector, "dragover", {"dataTransfer": dt})
    page.dispatch_event(selector, "drop", {"dataTransfer": dt})


def test_a_pasted_image_and_a_dropped_pdf_reach_the_other_side(
        pages: Pages, admin: Api, tmp_path: Path) -> None:
    kehu_id, customer = pages.customer("发截图的客户")
    attach = customer.get_by_role("button", name="发送文件或图片（也可粘贴或拖入）")
    expect(attach).to_be_disabled()  # waiting: no conversation to put a file in yet
    kefu_id, _, agent = pages.agent(admin, "客服看图")
    expect(attach).to_be_enabled()

    # a page dressed as a PNG is refused, and the customer is told so in its language
    paste_file(customer, ".composer-input", b"<html><script>x()</script></html>", "x.png",
               "image/png")
    expect(customer.locator(".upload-status")).to_have_text("上传失败：不支持的文件类型")

    # the customer pastes a screenshot: the agent sees its thumbnail in the timeline
    paste_file(customer, ".composer-input", png(), "截图.png", "image/png")
    expect(customer.locator(".tl-msg.mine .msg-upload-image img")).to_have_attribute(
        "src", re.compile(r"^blob:"))
    expect(customer.locator(".upload-status")).to_be_hidden()
    agent.locator(".customer", has_text="发截图的客户").click()
    thumb = agent.locator(".tl-msg.theirs .msg-upload-image img")
    expect(thumb).to_have_attribute("alt", "图片：截图.png")
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    assert thumb.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
                          ) == [320, 240]
    thumb.click()  # the full image, in a dialog
    full = agent.locator("dialog.lightbox img")
    expect(full).to_have_attribute("src", re.compile(r"^blob:"))
    assert full.evaluate("img => img.decode().then(() => img.naturalWidth)") == 400
    agent.keyboard.press("Escape")
    expect(agent.locator("dialog.lightbox")).to_have_count(0)

    # the agent drops a PDF onto the conversation: the customer gets a card to download
    drop_file(agent, ".chat-pane", PDF, "报价单.pdf", "application/pdf")
    card = customer.locator(".tl-msg.theirs .msg-file-card")
    expect(card.locator(".file-name")).to_have_text("报价单.pdf")
    expect(card.locator(".file-size")).to_have_text("3.0 KB")
    with customer.expect_download() as got:
        card.get_by_role("button", name="下载").click()
    assert got.value.suggested_filename == "报价单.pdf"
    assert Path(got.value.path()).read_bytes() == PDF

    # both are stored as messages of the session, each with its upload's url
    stored = admin.ok("GET", f"/api/sessions/{kehu_id}:{kefu_id}/messages")["messages"]
    assert [(m["content_type"], m["content"]) for m in stored] == [
        ("Image", "截图.png"), ("File", "报价单.pdf")]
    assert all(m["url"].startswith("/api/uploads/up_") for m in stored)

    # a file over the limit is refused in the page, in the user's language
    big = tmp_path / "大文件.pdf"
    with big.open("wb") as fh:
        fh.truncate(11 * 2**20)
    with agent.expect_file_chooser() as chooser:
        agent.get_by_role("button", name="发送文件或图片（也可粘贴或拖入）").click()
    chooser.value.set_files(big)
    expect(agent.locator(".upload-status")).to_have_text("大文件.pdf 过大，最大 10 MB")
