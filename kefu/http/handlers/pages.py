"""The browser pages: the agent workspace (``/console``), the operator dashboard
(``/console/admin``), the customer widget (``/chat``), its one-tag embed loader
(``/chat/embed.js``) and their static files (``/static/...``).

Everything is plain HTML, CSS and JavaScript modules under ``kefu/http/static/`` (no CDN,
no build step). The pages talk only to the REST API and ``/ws``. Each page carries a
Content-Security-Policy that allows scripts and styles from this server only, so even a
rendering bug could not run a script smuggled into a chat message.
"""

from __future__ import annotations

from pathlib import Path

from tornado.web import RequestHandler, StaticFileHandler

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGES = {"console": "console.html", "admin": "admin.html", "chat": "chat.html"}

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob: https: http:; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")


def static_dir() -> str:
    """The directory ``/static/`` serves."""
    return str(STATIC_DIR)


class PageHandler(RequestHandler):
    """One HTML page. The widget may be framed by any site; the consoles by none."""

    openapi_skip = True

    def initialize(self, page: str) -> None:
        self.page = page

    def get(self) -> None:
        framable = self.page == "chat"
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Security-Policy",
                        _CSP.format(ancestors="*" if framable else "'none'"))
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")
        if not framable:
            self.set_header("X-Frame-Options", "DENY")
        self.finish((STATIC_DIR / PAGES[self.page]).read_bytes())


class EmbedHandler(RequestHandler):
    """``<script src="https://HOST/chat/embed.js" async></script>`` on any site adds a
    chat button that opens ``/chat`` of this server in an iframe."""

    openapi_skip = True

    def get(self) -> None:
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish((STATIC_DIR / "js" / "embed.js").read_bytes())


class StaticHandler(StaticFileHandler):
    """The pages' CSS and JavaScript modules (revalidated by ETag on each load)."""

    openapi_skip = True

    def get_content_type(self) -> str:
        if self.absolute_path.endswith((".js", ".mjs")):
            return "text/javascript; charset=utf-8"
        if self.absolute_path.endswith(".css"):
            return "text/css; charset=utf-8"
        return super().get_content_type()

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")


def page_routes() -> list[tuple[str, type, dict[str, object]]]:
    """The routes of the pages, for the app's route table."""
    return [
        (r"/console/?", PageHandler, {"page": "console"}),
        (r"/console/admin/?", PageHandler, {"page": "admin"}),
        (r"/chat/?", PageHandler, {"page": "chat"}),
        (r"/chat/embed\.js", EmbedHandler, {}),
        (r"/static/(.*)", StaticHandler, {"path": static_dir()}),
    ]
