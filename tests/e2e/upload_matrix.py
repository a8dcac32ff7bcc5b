"""The uploads' rows of the role matrix (``test_role_matrix.py``): the helpers that make a
real multipart upload for the callers expected to succeed, and the one upload the read
rows fetch (made once, by K1 into its session with A)."""

from __future__ import annotations

import io
from typing import Any, Protocol

import httpx
from PIL import Image


class Caller(Protocol):
    def call(self, method: str, path: str, json_body: Any = None, **kw: Any
             ) -> httpx.Response: ...


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, "PNG")
    return out.getvalue()


class Uploading:
    """A caller whose request carries a PNG as multipart ``file`` (not a JSON body)."""

    def __init__(self, api: Caller) -> None:
        self.api = api

    def call(self, method: str, path: str, json_body: Any = None, **kw: Any) -> httpx.Response:
        return self.api.call(method, path, None,
                             files={"file": ("matrix.png", tiny_png(), "image/png")})


def uploading(ctx: Any, caller: str) -> tuple[Any, str | None, Any]:
    """Prep of ``POST /api/uploads``: the caller sends a real file."""
    return Uploading(ctx.api[caller]), None, None


def an_upload(suffix: str = "") -> Any:
    """Prep of the read rows: the path of K1's upload (made on first use)."""

    def prep(ctx: Any, caller: str) -> tuple[Any, str | None, Any]:
        if "upload" not in ctx.ids:
            r = Uploading(ctx.api["kehu"]).call(
                "POST", f"/api/uploads?session_id={ctx.ids['sid']}")
            assert r.status_code == 200, r.text
            ctx.ids["upload"] = r.json()["data"]["upload"]["id"]
        return None, f"/api/uploads/{ctx.ids['upload']}{suffix}", None

    return prep
