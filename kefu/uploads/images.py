"""Checking an uploaded image and making its thumbnail with Pillow (issue 15, uploads).

The header is read first: an image of more than ``KEFU_UPLOAD_MAX_PIXELS`` pixels is
refused before a single pixel is decoded (a decompression bomb: a few KiB of PNG can claim
gigabytes of pixels). Then the first frame is decoded for real — a file that is not the
image its magic bytes claim is refused — and shrunk to fit 320×320 (EXIF orientation
applied), saved as WebP. CPU-bound and blocking: run it in an executor, never the IOLoop.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

THUMB_SIZE = (320, 320)
THUMB_TYPE = "image/webp"
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class ImageRefused(Exception):
    """``reason``: ``broken`` (not a decodable image of its type) or ``too_many_pixels``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Thumbnail:
    width: int
    height: int
    data: bytes


def thumbnail(data: bytes, mime: str, max_pixels: int) -> Thumbnail:
    """The image's size and its thumbnail, or :class:`ImageRefused`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[FORMATS[mime]])
            width, height = img.size
            if width * height > max_pixels or width <= 0 or height <= 0:
                raise ImageRefused("too_many_pixels")
            img.draft("RGB", THUMB_SIZE)  # JPEG: decode at a reduced scale
            img.load()
            img = ImageOps.exif_transpose(img)
            img.thumbnail(THUMB_SIZE)
            if img.mode not in ("RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.getbands() or "transparency"
                                  in img.info else "RGB")
            out = io.BytesIO()
            img.save(out, "WEBP", quality=80, method=4)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            MemoryError) as exc:
        raise ImageRefused("broken") from exc
    return Thumbnail(width, height, out.getvalue())
