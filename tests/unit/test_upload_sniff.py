"""The uploads' allow-list by content (kefu/uploads/sniff.py) and the stored name."""

from __future__ import annotations

import io
import zipfile

import pytest

from kefu.uploads.sniff import GZIP, PDF, PNG, TEXT, Kind, safe_name, sniff


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


OOXML = "application/vnd.openxmlformats-officedocument."
ALLOWED = [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 20, "image/jpeg"),
    (b"GIF89a" + b"\0" * 20, "image/gif"),
    (b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 20, "image/webp"),
    (b"%PDF-1.7\n", "application/pdf"),
    (zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"}),
     OOXML + "wordprocessingml.document"),
    (zipped({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}),
     OOXML + "spreadsheetml.sheet"),
    (zipped({"mimetype": b"application/vnd.oasis.opendocument.text"}),
     "application/vnd.oasis.opendocument.text"),
    (zipped({"a.txt": b"hi"}), "application/zip"),
    (b"\x1f\x8b\x08\0" + b"\0" * 20, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c" + b"\0" * 20, "application/x-7z-compressed"),
    (b"ID3\x04" + b"\0" * 20, "audio/mpeg"),
    (b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 20, "audio/wav"),
    (b"OggS" + b"\0" * 20, "audio/ogg"),
    (b"\0\0\0\x20ftypM4A " + b"\0" * 20, "audio/mp4"),
    (b"\0\0\0\x20ftypisom" + b"\0" * 20, "video/mp4"),
    ("订单号 123，谢谢\r\n\tok".encode(), TEXT.mime),
    (b"\xef\xbb\xbfname,price\nA,1\n", TEXT.mime),
]
REFUSED = [
    b"", b"<html><body>x</body></html>", b"  \n<!DOCTYPE html>", b"<svg onload=x()/>",
    b'<?xml version="1.0"?><svg/>', b"text then <script>alert(1)</script>",
    b"MZ\x90\0\x03\0\0\0", b"\x7fELF\x02\x01\x01", b"\xca\xfe\xba\xbe\0\0\0\x02",
    b"#!/usr/bin/env python\nprint(1)\n", b"bell\x07", b"\xff\xfe\0h\0i",
    b"\0\0\0\x20ftypqt  ", b"{\\rtf1 x}\0",
]


@pytest.mark.parametrize(("data", "mime"), ALLOWED)
def test_allowed_types_are_recognised(data: bytes, mime: str) -> None:
    kind = sniff(data)
    assert kind is not None and kind.mime == mime


@pytest.mark.parametrize("data", REFUSED)
def test_everything_else_is_refused(data: bytes) -> None:
    assert sniff(data) is None


@pytest.mark.parametrize(("claimed", "kind", "stored"), [
    ("../../etc/passwd", TEXT, "passwd.txt"),
    ("C:\\Users\\me\\报价.PDF", PDF, "报价.PDF"),
    ("invoice.exe", PDF, "invoice.exe.pdf"),
    ("", PNG, "file.png"),
    ("a\x00b\x1f<c>.png", PNG, "a_b_c_.png"),
    ("...", GZIP, "file.gz"),
    ("x" * 300 + ".pdf", PDF, "x" * 116 + ".pdf"),  # at most 120 characters
])
def test_the_stored_name_is_safe_and_ends_in_the_real_type(claimed: str, kind: Kind,
                                                          stored: str) -> None:
    assert safe_name(claimed, kind) == stored
