"""Where uploaded bytes live, behind one small interface (issue 15, uploads).

- :class:`DirStore` (``KEFU_UPLOAD_STORE=dir``, the default): files under
  ``KEFU_DATA_DIR/uploads/``, two levels of fan-out, written to a temporary name, fsynced
  and renamed, so a reader never sees half a file. In cluster mode every node must see the
  same directory (a shared mount), or use S3.
- :class:`S3Store` (``KEFU_UPLOAD_STORE=s3``): one object per blob in ``KEFU_S3_BUCKET`` of
  any S3-compatible service (AWS, MinIO, SeaweedFS, ...) through boto3, path-style.

Every method blocks (disk or network): call them from an executor thread, never the
IOLoop. Keys are made by the server (``up_<hex>`` and ``up_<hex>.thumb``), never by a
client.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import Any, Protocol

from kefu.config import Settings

KEY = re.compile(r"^up_[0-9a-f]{32}(\.thumb)?$")


class Reader(Protocol):
    def read(self, size: int) -> bytes: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Bytes by key. Blocking; thread-safe."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def open(self, key: str) -> Reader | None:
        """A reader of the blob, or None when there is none."""
        ...

    def delete(self, key: str) -> None: ...

    def check(self) -> None:
        """Raise if the store cannot be used (at start-up)."""
        ...


class DirStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        if not KEY.match(key):
            raise ValueError(f"not an upload key: {key!r}")
        return self.root / key[3:5] / key[5:7] / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{key}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def open(self, key: str) -> Reader | None:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def check(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)


class S3Store:
    """An S3-compatible bucket. The bucket is created at start-up when it is missing."""

    def __init__(self, endpoint: str | None, bucket: str, access_key: str | None,
                 secret_key: str | None, region: str) -> None:
        import boto3  # noqa: PLC0415 - only when S3 is configured (boto3 is the s3 extra)
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint or None, aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None, region_name=region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                          connect_timeout=5, read_timeout=30, max_pool_connections=16))
        from botocore.exceptions import ClientError  # noqa: PLC0415

        self.client_error = ClientError

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                               ContentType=content_type)

    def open(self, key: str) -> Reader | None:
        try:
            body: Reader = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return body
        except self.client_error as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self.client_error as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            self.client.create_bucket(Bucket=self.bucket)


def blob_store(s: Settings) -> BlobStore:
    """The store ``KEFU_UPLOAD_STORE`` names."""
    if s.upload_store == "s3":
        return S3Store(s.s3_endpoint, s.s3_bucket, s.s3_access_key, s.s3_secret_key,
                       s.s3_region)
    return DirStore(s.uploads_dir)
