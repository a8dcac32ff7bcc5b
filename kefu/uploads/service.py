"""Uploads as one service (issue 15): type by content, image check and thumbnail, bytes to
the blob store, then the record to Redis. Built at start-up (``server.py``), held by the
app state, closed at shut-down.

Threads: :meth:`Uploads.accept` and the blob reads block (Pillow, disk, S3, Redis) and run
in the service's own small executor (``KEFU_UPLOAD_CONCURRENCY`` threads), so decoding
images neither blocks the IOLoop nor starves the Redis executor. ``slots`` counts the
request bodies being received (loop thread only).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tornado.ioloop import IOLoop

from kefu.config import Settings
from kefu.persistence import upload_records as records
from kefu.persistence.redis import Store
from kefu.uploads.images import THUMB_TYPE, ImageRefused, thumbnail
from kefu.uploads.sniff import safe_name, sniff
from kefu.uploads.storage import BlobStore, Reader, blob_store

T = TypeVar("T")


class UploadRefused(Exception):
    """A refusal with its HTTP status and i18n key."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status, self.key = status, key


class Uploads:
    def __init__(self, settings: Settings, store: Store, blobs: BlobStore | None = None) -> None:
        self.settings, self.store = settings, store
        self.blobs = blobs if blobs is not None else blob_store(settings)
        self.executor = ThreadPoolExecutor(max_workers=settings.upload_concurrency,
                                           thread_name_prefix="kefu-upload")
        self.slots = 0  # request bodies being received now (loop thread)

    def check(self) -> None:
        """At start-up: the directory exists, or the bucket answers (created if missing)."""
        self.blobs.check()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the uploads' executor (loop thread)."""
        return await IOLoop.current().run_in_executor(self.executor, fn, *args)

    # --- blocking (executor) -----------------------------------------------------------

    def accept(self, data: bytes, claimed_name: str, session_id: str, uploader: str
               ) -> dict[str, Any]:
        """Check and keep one file → its record; :class:`UploadRefused` otherwise."""
        if not data:
            raise UploadRefused(400, "upload_empty")
        if len(data) > self.settings.upload_max_bytes:
            raise UploadRefused(413, "upload_too_large")
        kind = sniff(data)
        if kind is None:
            raise UploadRefused(415, "upload_type_refused")
        record: dict[str, Any] = {
            "id": records.new_id(), "session_id": session_id, "uploader": uploader,
            "name": safe_name(claimed_name, kind), "content_type": kind.mime,
            "size": len(data), "image": kind.image}
        thumb = None
        if kind.image:
            try:
                thumb = thumbnail(data, kind.mime, self.settings.upload_max_pixels)
            except ImageRefused as exc:
                raise UploadRefused(413 if exc.reason == "too_many_pixels" else 400,
                                    f"upload_image_{exc.reason}") from exc
            record.update(width=thumb.width, height=thumb.height)
        key = record["id"]
        self.blobs.put(key, data, kind.mime)
        try:
            if thumb is not None:
                self.blobs.put(f"{key}.thumb", thumb.data, THUMB_TYPE)
            return records.save(self.store, record)
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: no orphan bytes
                self.blobs.delete(key)
                self.blobs.delete(f"{key}.thumb")
            raise

    def open(self, key: str) -> Reader | None:
        return self.blobs.open(key)


async def start_uploads(settings: Settings, store: Store) -> Uploads | None:
    """The service, its store checked (the IOLoop's thread, at start-up); None after one
    clear line on stderr when the store cannot be used (the server then exits 1)."""
    try:
        uploads = Uploads(settings, store)
    except ImportError:
        print("kefu: KEFU_UPLOAD_STORE=s3 needs boto3: pip install 'kefu[s3]'",
              file=sys.stderr, flush=True)
        return None
    try:
        await uploads.run(uploads.check)
    except Exception as exc:  # noqa: BLE001 - any store failure: say it and stop
        uploads.close()
        print(f"kefu: the upload store ({settings.upload_store}) is not usable: "
              f"{type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr, flush=True)
        return None
    return uploads
