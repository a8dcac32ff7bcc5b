"""The page routes over plain HTTP: content types, the Content-Security-Policy that keeps
scripts to this server's files, framing rules, and no way out of the static directory."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.helpers import ServerProcess

STATIC = Path(__file__).resolve().parents[2] / "kefu" / "http" / "static"


def test_pages_are_served_with_their_policies(server: ServerProcess) -> None:
    for path, framable in (("/console", False), ("/console/admin", False), ("/chat", True)):
        r = httpx.get(server.base + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert ("frame-ancestors *" in csp) is framable, path
        assert ("frame-ancestors 'none'" in csp) is not framable, path
        assert '<script type="module" src="/static/js/' in r.text
    embed = httpx.get(server.base + "/chat/embed.js")
    assert embed.headers["content-type"].startswith("application/javascript")
    module = httpx.get(server.base + "/static/js/dom.js")
    assert module.headers["content-type"].startswith("text/javascript")


def test_no_script_writes_html() -> None:
    """User text reaches the DOM as text nodes only: no HTML sinks in any page script."""
    sinks = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|"
                       r"\beval\(|new Function\(")
    scripts = sorted(STATIC.glob("**/*.js"))
    assert len(scripts) > 10
    found = [f"{p.name}: {m.group(0)}" for p in scripts
             for m in sinks.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


def test_static_files_stay_inside_their_directory(server: ServerProcess) -> None:
    for path in ("/static/%2e%2e/handlers/pages.py", "/static/..%2fhandlers%2fpages.py",
                 "/static/js/nope.js"):
        r = httpx.get(server.base + path)
        assert r.status_code in (403, 404), (path, r.status_code)
        assert "STATIC_DIR" not in r.text
