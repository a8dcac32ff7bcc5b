"""File and image uploads (issue 15, item 1) over REST and the WebSocket, on a server of
this module with small limits: who may upload and read, the type decided by the bytes,
the size and pixel limits, the reply headers, the thumbnail, and chat messages that carry
an upload."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import E2E_ENV
from tests.helpers import WS, Api, ServerProcess, clear_of_minute_end, open_pair, running

MAX_BYTES = 256 * 1024
LIMITS = {"KEFU_UPLOAD_MAX_BYTES": str(MAX_BYTES), "KEFU_UPLOAD_MAX_PIXELS": "1000000",
          "KEFU_UPLOAD_RATE_PER_MINUTE": "30", "KEFU_UPLOAD_CONCURRENCY": "2"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("uploads")), **E2E_ENV, **LIMITS) as srv:
        yield srv


def png(width: int = 640, height: int = 480, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "red" if mode == "RGB" else 1).save(out, "PNG")
    return out.getvalue()


def upload(api: Api, data: bytes, name: str = "photo.png", ctype: str = "image/png",
           sid: str | None = None, **kw: object) -> httpx.Response:
    params = {"session_id": sid} if sid else {}
    return api.call("POST", "/api/uploads", files={"file": (name, data, ctype)},
                    params=params, **kw)


def refused(r: httpx.Response, status: int, error: str | None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert (body["success"], body["error_code"], body.get("error")) == (False, status, error)


def test_an_image_goes_up_comes_back_with_a_thumbnail_and_is_sent(
        server: ServerProcess, admin: Api) -> None:
    p = open_pair(server, admin)
    try:
        data = png()
        # a kehu may leave session_id out: its active session
        r = upload(p.kehu, data, name="../../etc/收据 1.png")
        assert r.status_code == 200, r.text
        up = r.json()["data"]["upload"]
        assert (up["session_id"], up["uploader"], up["content_type"], up["size"]) == (
            p.sid, p.kehu_id, "image/png", len(data))
        assert (up["image"], up["width"], up["height"], up["name"]) == (True, 640, 480,
                                                                        "收据 1.png")
        assert up["url"] == f"/api/uploads/{up['id']}"
        for reader in (p.kehu, p.kefu, admin):
            got = reader.call("GET", up["url"])
            assert got.status_code == 200 and got.content == data
        h = got.headers
        assert h["content-type"] == "image/png"
        assert h["x-content-type-options"] == "nosniff"
        assert h["content-disposition"].startswith("inline; ")
        assert "filename*=UTF-8''%E6%94%B6%E6%8D%AE%201.png" in h["content-disposition"]
        assert "sandbox" in h["content-security-policy"]
        assert h["cache-control"].startswith("private")
        head = p.kefu.call("HEAD", up["url"])  # a file card's size, without the bytes
        assert (head.status_code, head.headers["content-length"]) == (200, str(len(data)))
        thumb = p.kefu.call("GET", up["thumbnail_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)

        # sent as a chat message: stored with its url; the agent receives it
        p.c.send(type="message", client_msg_id="img1", content=up["name"],
                 content_type="Image", url=up["url"])
        assert p.c.expect("ack")["message"]["url"] == up["url"]
        got_msg = p.k.expect("message")["message"]
        assert (got_msg["content_type"], got_msg["url"]) == ("Image", up["url"])
        # the agent may send the same upload on, without naming the session
        p.k.send(type="message", client_msg_id="img2", content="再看", content_type="File",
                 url=up["url"])
        assert p.k.expect("ack")["message"]["session_id"] == p.sid
    finally:
        p.close()


def test_a_message_may_only_carry_an_upload_of_its_own_session(
        server: ServerProcess, admin: Api) -> None:
    p, q = open_pair(server, admin), open_pair(server, admin)
    try:
        theirs = upload(q.kehu, png(40, 40)).json()["data"]["upload"]
        pdf = upload(p.kefu, PDF, "a.pdf", "application/pdf", sid=p.sid).json()["data"]["upload"]
        bad = [
            ("x1", "Image", theirs["url"], "upload_not_found"),  # another conversation's
            ("x2", "File", "/api/uploads/up_" + "0" * 32, "upload_not_found"),  # none
            ("x3", "File", "/api/uploads/../users", "upload_not_found"),
            ("x4", "Image", pdf["url"], "bad_frame"),  # a PDF is not an image
            ("x5", "Text", pdf["url"], "bad_frame"),
        ]
        for cid, ctype, url, code in bad:
            p.c.send(type="message", client_msg_id=cid, content="f", content_type=ctype,
                     url=url)
            err = p.c.expect("error")
            assert (err["code"], err["ref"]) == (code, cid), err
        # naming another session than the upload's: refused as well
        p.k.send(type="message", client_msg_id="x6", content="f", content_type="File",
                 url=pdf["url"], session_id=q.sid)
        assert p.k.expect("error")["code"] in ("upload_not_found", "session_not_found")
        # nothing of it was stored; the PDF as a File is fine
        p.c.send(type="message", client_msg_id="ok", content="a.pdf", content_type="File",
                 url=pdf["url"])
        assert p.c.expect("ack")["message"]["seq"] == 1
    finally:
        p.close()
        q.close()


def test_the_type_is_decided_by_the_bytes(server: ServerProcess, admin: Api) -> None:
    p = open_pair(server, admin)
    try:
        disguised = {
            "page.png": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            "logo.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>',
            "x.png": b'<?xml version="1.0"?><svg/>',
            "setup.png": b"MZ\x90\x00\x03" + b"\x00" * 200,
            "run.jpg": b"\x7fELF\x02\x01\x01" + b"\x00" * 200,
            "notes.txt": b"hello <script>alert(1)</script>",
            "run.txt": b"#!/bin/sh\nrm -rf /\n",
            "bin.txt": b"\x00\x01\x02binary",
        }
        for name, data in disguised.items():
            refused(upload(p.kehu, data, name=name, ctype="image/png"), 415,
                    "upload_type_refused")
        # what it claims does not matter either way: a PDF called .png is a PDF download
        r = upload(p.kehu, PDF, name="invoice.png", ctype="image/png")
        up = r.json()["data"]["upload"]
        assert (up["content_type"], up["image"], up["name"]) == ("application/pdf", False,
                                                                 "invoice.png.pdf")
        got = p.kefu.call("GET", up["url"])
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == (
            "attachment; filename=\"invoice.png.pdf\"; filename*=UTF-8''invoice.png.pdf")
        assert p.kefu.call("GET", up["url"] + "/thumbnail").status_code == 404
        text = upload(p.kehu, "价格表: 100 元\n".encode(), name="价格.txt",
                      ctype="application/octet-stream").json()["data"]["upload"]
        assert text["content_type"] == "text/plain; charset=utf-8"
        # broken images, empty files, no file
        refused(upload(p.kehu, b"\x89PNG\r\n\x1a\n" + b"junk" * 100), 400,
                "upload_image_broken")
        refused(upload(p.kehu, b""), 400, "upload_empty")
        refused(p.kehu.call("POST", "/api/uploads", {"file": "x"}), 400, "upload_no_file")
    finally:
        p.close()


def test_sizes_and_pixels_are_bounded(server: ServerProcess, admin: Api) -> None:
    p = open_pair(server, admin)
    try:
        big = b"%PDF-1.4\n" + b"0" * MAX_BYTES
        r = upload(p.kehu, big, "big.pdf", headers={"Accept-Language": "en"})
        refused(r, 413, "upload_too_large")
        assert r.json()["message"] == "File too large (at most 0.2 MB)"
        assert "文件过大" in upload(p.kehu, big, "big.pdf").json()["message"]
        # far past the limit: refused from its Content-Length, before it is read
        huge = upload(p.kehu, b"%PDF-" + b"0" * (5 * MAX_BYTES), "huge.pdf")
        refused(huge, 413, "upload_too_large")
        # a small PNG of 2000×1000 pixels: refused before it is decoded
        bomb = png(2000, 1000, mode="1")
        assert len(bomb) < 10_000
        refused(upload(p.kehu, bomb), 413, "upload_image_too_many_pixels")
        # the rest of the API keeps its own 1 MiB limit
        refused(p.kehu.call("POST", "/api/messages-left", content=b"{" + b" " * 1_100_000
                            + b"}", headers={"Content-Type": "application/json"}),
                413, None)
    finally:
        p.close()


def test_who_may_upload(server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    p = open_pair(server, admin)
    try:
        # the kefu must name its session; someone else's is the 404 of a missing one
        refused(upload(p.kefu, PDF, "a.pdf"), 400, "session_id_required")
        _, other_kefu = admin.create_kefu()
        _, other_kehu = admin.guest()
        missing = upload(other_kefu, PDF, "a.pdf", sid="nobody:nothing")
        for api in (other_kefu, other_kehu):
            r = upload(api, PDF, "a.pdf", sid=p.sid)
            refused(r, 404, "session_not_found")
            assert r.json()["message"] == missing.json()["message"]
        refused(upload(admin, PDF, "a.pdf", sid=p.sid), 403, None)
        refused(httpx.post(server.base + "/api/uploads", files={"file": ("a", PDF)}), 401,
                None)
        # a customer that is not (yet) in a conversation: nothing to upload into
        refused(upload(other_kehu, PDF, "a.pdf"), 409, "no_session")
        # an ended conversation takes no more files
        p.kefu.ok("POST", f"/api/sessions/{p.sid}/end")
        refused(upload(p.kefu, PDF, "a.pdf", sid=p.sid), 409, "session_not_active")
    finally:
        p.close()


def test_who_may_read_follows_the_conversation(server: ServerProcess, admin: Api,
                                               sockets: list[WS]) -> None:
    p = open_pair(server, admin)
    try:
        up = upload(p.kehu, png(50, 50)).json()["data"]["upload"]
        _, stranger_kehu = admin.guest()
        new_kefu_id, new_kefu = admin.create_kefu()
        k2 = WS(server.ws_url, new_kefu.token)
        sockets.append(k2)
        k2.expect("hello")
        missing = p.kehu.call("GET", "/api/uploads/up_" + "f" * 32)
        refused(missing, 404, "upload_not_found")
        for api in (stranger_kehu, new_kefu):
            for path in (up["url"], up["thumbnail_url"]):
                r = api.call("GET", path)
                refused(r, 404, "upload_not_found")
                assert r.json()["message"] == missing.json()["message"]
        refused(httpx.get(server.base + up["url"]), 401, None)
        # after a transfer the new agent reads the earlier conversation's files
        p.kefu.ok("POST", f"/api/sessions/{p.sid}/transfer", {"to_kefu_id": new_kefu_id})
        k2.expect("transferred")
        assert new_kefu.call("GET", up["url"]).status_code == 200
        assert new_kefu.call("GET", up["thumbnail_url"]).status_code == 200
        assert p.kefu.call("GET", up["url"]).status_code == 200  # its history, still
    finally:
        p.close()


def test_uploads_per_user_are_rate_limited(server: ServerProcess, admin: Api) -> None:
    clear_of_minute_end()
    p = open_pair(server, admin)
    try:
        for i in range(30):
            assert upload(p.kehu, f"第 {i} 行\n".encode(), "a.txt").status_code == 200
        r = upload(p.kehu, b"one more\n", "a.txt")
        refused(r, 429, None)
        assert int(r.headers["Retry-After"]) >= 1
        # per user: the agent of the same conversation still may
        assert upload(p.kefu, PDF, "a.pdf", sid=p.sid).status_code == 200
    finally:
        p.close()


def test_upload_bodies_held_at_once_are_bounded_and_freed(server: ServerProcess,
                                                          admin: Api) -> None:
    """Two uploads stuck half-way hold both slots (KEFU_UPLOAD_CONCURRENCY=2): a third is
    503; once their clients go, the slots are free again (none leaks)."""
    p = open_pair(server, admin)
    stuck: list[socket.socket] = []
    try:
        host, port = server.base.split("//")[1].split(":")
        for _ in range(2):
            s = socket.create_connection((host, int(port)), timeout=10)
            stuck.append(s)
            s.sendall((f"POST /api/uploads?session_id={p.sid} HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Bearer {p.kefu.token}\r\n"
                       "Content-Type: multipart/form-data; boundary=XX\r\n"
                       "Expect: 100-continue\r\nContent-Length: 200000\r\n\r\n").encode())
            # "100 Continue" comes once the checks before the body are done (a slot taken)
            assert s.recv(100).startswith(b"HTTP/1.1 100")
            s.sendall(b"--XX\r\n" + b"a" * 999)
        refused(upload(p.kehu, b"x\n", "a.txt"), 503, "upload_busy")
        for s in stuck:
            s.close()
        # each try is answered; the slots come back as the server sees the sockets close
        freed = [upload(p.kehu, b"y\n", "a.txt").status_code for _ in range(20)]
        assert 200 in freed, freed
    finally:
        for s in stuck:
            s.close()
        p.close()
