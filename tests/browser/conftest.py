"""Browser tests: the real server process (``tests.helpers.ServerProcess`` with its own
embedded Redis, as in the e2e tests) driven through Debian's Chromium by Playwright.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing
(``scripts/test`` installs Chromium when it runs as root with apt-get). Every wait is
Playwright's auto-waiting ``expect`` (or a WebSocket/REST reply): no sleeps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Api, ServerProcess, running

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SKIP_HINT = ("install it with `apt-get install -y chromium fonts-noto-cjk` "
             "(scripts/test does this when it runs as root)")

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]
    collect_ignore_glob = ["test_*.py"]  # they import playwright; the fixture explains


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the
# main thread while it is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.skip("browser tests: playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests: no Chromium at {CHROMIUM}; {SKIP_HINT}")
    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, chromium: Browser) -> Iterator[ServerProcess]:
    """One server for the browser tests (started only when a browser is there)."""
    with running(Path(tmp_path_factory.mktemp("browser-srv")),
                 KEFU_AGENT_GRACE_SECONDS="120", KEFU_FAULT_INJECTION="1") as srv:
        yield srv


@pytest.fixture()
def admin(server: ServerProcess) -> Api:
    return Api.login(server.base, "admin", "admin-pass")


@dataclass
class Pages:
    """Opens pages in fresh browser contexts; closes them after the test and fails it
    if any page had an uncaught JavaScript error."""

    browser: Browser
    base: str
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def context(self, viewport: dict[str, int] | None = None,
                locale: str = "zh-CN") -> BrowserContext:
        ctx = self.browser.new_context(viewport=viewport or DESKTOP, locale=locale)
        ctx.set_default_timeout(10_000)
        self.contexts.append(ctx)
        return ctx

    def open(self, path: str, viewport: dict[str, int] | None = None, locale: str = "zh-CN",
             storage: dict[str, Any] | None = None) -> Page:
        ctx = self.context(viewport, locale)
        if storage:  # a signed-in user, as the login form would have stored it
            items = {k: json.dumps(v) for k, v in storage.items()}
            ctx.add_init_script(
                "(() => { const items = " + json.dumps(items) + ";"
                " if (!sessionStorage.getItem('kefu-test-seeded')) {"
                "  for (const [k, v] of Object.entries(items)) localStorage.setItem(k, v);"
                "  sessionStorage.setItem('kefu-test-seeded', '1'); } })();")
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{path}: {exc}"))
        page.goto(self.base + path)
        return page

    def agent(self, admin: Api, name: str, max_sessions: int = 5,
              viewport: dict[str, int] | None = None) -> tuple[str, Api, Page]:
        """A new kefu, signed in on /console and connected."""
        kefu_id, api = admin.create_kefu(name, max_sessions=max_sessions)
        user = api.ok("GET", f"/api/users/{kefu_id}")["user"]
        page = self.open("/console", viewport,
                         storage={"kefu.console.auth": {"token": api.token, "user": user}})
        expect(page.locator(".pill.link-open")).to_be_visible()
        return kefu_id, api, page

    def customer(self, name: str, viewport: dict[str, int] | None = None,
                 locale: str = "zh-CN") -> tuple[str, Page]:
        """A guest on /chat that pressed "start" (it asks for service)."""
        page = self.open("/chat", viewport or PHONE, locale)
        page.fill("#guest-name", name)
        page.locator(".welcome button[type=submit]").click()
        expect(page.locator(".composer-input")).to_be_visible()
        kehu_id = page.evaluate("() => window.kefuChat.me.id")
        return kehu_id, page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture()
def pages(chromium: Browser, server: ServerProcess, admin: Api) -> Iterator[Pages]:
    opened = Pages(chromium, server.base)
    yield opened
    opened.close()
    # leave the server as the next test expects it: no active session, nobody waiting
    active = admin.ok("GET", "/api/sessions/list", params={"status": "active", "limit": 200})
    for s in active["sessions"]:
        admin.call("POST", f"/api/sessions/{s['session_id']}/end")
    assert admin.ok("GET", "/api/kefu/waiting")["total"] == 0, "a test left customers waiting"
    assert not opened.errors, f"uncaught errors in the pages: {opened.errors}"
