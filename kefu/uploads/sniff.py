"""What a file is, decided by its bytes (magic numbers) — never by its name or the
Content-Type a client claims (issue 15, uploads).

The allow-list: images (PNG, JPEG, GIF, WebP: shown inline, with a thumbnail), PDF, the
Office Open XML documents (docx, xlsx, pptx), OpenDocument, zip, gzip, 7z, audio (MP3,
WAV, Ogg, M4A), MP4 video, and plain UTF-8 text. Anything else is refused, notably HTML,
SVG and XML (they would run script if a browser ever rendered them), executables and
scripts — whatever their name says. Pure functions, no I/O.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A recognised type: its MIME type, its usual extensions (the first is added to a
    name that has none of them) and whether it is an image shown inline."""

    mime: str
    extensions: tuple[str, ...]
    image: bool = False


PNG = Kind("image/png", (".png",), image=True)
JPEG = Kind("image/jpeg", (".jpg", ".jpeg"), image=True)
GIF = Kind("image/gif", (".gif",), image=True)
WEBP = Kind("image/webp", (".webp",), image=True)
PDF = Kind("application/pdf", (".pdf",))
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",))
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
PPTX = Kind("application/vnd.openxmlformats-officedocument.presentationml.presentation",
            (".pptx",))
ODT = Kind("application/vnd.oasis.opendocument.text", (".odt",))
ODS = Kind("application/vnd.oasis.opendocument.spreadsheet", (".ods",))
ODP = Kind("application/vnd.oasis.opendocument.presentation", (".odp",))
ZIP = Kind("application/zip", (".zip",))
GZIP = Kind("application/gzip", (".gz", ".tgz"))
SEVEN_Z = Kind("application/x-7z-compressed", (".7z",))
MP3 = Kind("audio/mpeg", (".mp3",))
WAV = Kind("audio/wav", (".wav",))
OGG = Kind("audio/ogg", (".ogg", ".oga", ".opus"))
M4A = Kind("audio/mp4", (".m4a",))
MP4 = Kind("video/mp4", (".mp4", ".m4v"))
TEXT = Kind("text/plain; charset=utf-8", (".txt", ".csv", ".log", ".md", ".json"))

ODF = {b"application/vnd.oasis.opendocument.text": ODT,
       b"application/vnd.oasis.opendocument.spreadsheet": ODS,
       b"application/vnd.oasis.opendocument.presentation": ODP}
OOXML = (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX))
MP4_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}

# text that a browser could take for markup (sniffing looks at the start; we look further)
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|object|embed|\?xml|"
                     rb"meta|link|style|img|a\s|div|xml|xsl)", re.IGNORECASE)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(data: bytes) -> Kind | None:
    """The kind of ``data``, or None when it is not on the allow-list."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if head.startswith(b"\x1f\x8b\x08"):
        return GZIP
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVEN_Z
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MP3
    if head.startswith(b"OggS"):
        return OGG
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"M4A ":
            return M4A
        return MP4 if brand in MP4_BRANDS else None
    return _text_kind(data)


def _zip_kind(data: bytes) -> Kind:
    """An Office or OpenDocument file is a zip: its entries tell which (only the central
    directory is read; nothing is decompressed except ODF's tiny ``mimetype``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            if "mimetype" in names and z.getinfo("mimetype").file_size < 100:
                found = ODF.get(z.read("mimetype").strip())
                if found is not None:
                    return found
            if "[Content_Types].xml" in names:
                for prefix, kind in OOXML:
                    if any(n.startswith(prefix) for n in names):
                        return kind
    # a damaged archive, or one zipfile cannot read (NotImplementedError: a compression
    # method it lacks): still a zip, just not a document we can name
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError):
        pass
    return ZIP


def _text_kind(data: bytes) -> Kind | None:
    """Plain UTF-8 text without control characters, markup or a ``#!`` line."""
    if not data:
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = body.lstrip()
    if _CONTROL.search(body) or start.startswith((b"<", b"#!")) or _MARKUP.search(body):
        return None
    return TEXT


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_name(claimed: str, kind: Kind) -> str:
    """The file's name as shown and downloaded: no directories, no control or
    reserved characters, at most 120 characters, ending in an extension of ``kind``
    (``report.exe`` that is really a PDF becomes ``report.exe.pdf``)."""
    base = claimed.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", base).strip(" .") or "file"
    lower = name.lower()
    if not lower.endswith(kind.extensions):
        name += kind.extensions[0]
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = stem[: 119 - len(ext)] + dot + ext
    return name
