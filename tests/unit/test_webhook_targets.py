"""The webhooks' SSRF rule (kefu/webhooks/targets.py): which URLs and addresses a hook may
reach, checked at creation and, through the delivery client's resolver, at each
connection — a real Tornado client against a real receiver on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tornado.httpclient import AsyncHTTPClient

from kefu.webhooks.delivery import backoff, signature
from kefu.webhooks.targets import (
    GuardedResolver,
    RefusedTarget,
    address_allowed,
    check_target,
    check_url,
)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254",
    "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::", "240.0.0.1", "100.64.0.1",
    "::ffff:127.0.0.1", "fc00::1", "192.0.2.1"])
def test_local_private_and_special_addresses_are_refused(address: str) -> None:
    assert not address_allowed(address, allow_private=False)
    assert address_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address, allow_private=False)


@pytest.mark.parametrize("url", [
    "ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/",
    "http://:pw@example.com/", "https:///nohost", "http://example.com:99999/",
    "http://" + "a" * 2000 + ".com/"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(RefusedTarget):
        check_url(url)


def test_the_host_is_resolved_at_creation() -> None:
    for url in ("http://localhost:9/x", "http://127.0.0.1/", "http://[::1]:8080/",
                "https://10.0.0.1/hook"):
        with pytest.raises(RefusedTarget, match="KEFU_WEBHOOK_ALLOW_PRIVATE"):
            check_target(url, allow_private=False)
        check_target(url, allow_private=True)
    check_target("https://8.8.8.8/hook", allow_private=False)
    check_target("https://no-such-host.invalid/hook", allow_private=False)  # checked later


@pytest.fixture()
def loopback_receiver() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/hook", hits
    server.shutdown()
    server.server_close()


def test_each_connection_is_checked(loopback_receiver: tuple[str, list[str]]) -> None:
    """The delivery client's resolver refuses a loopback address whatever the creation
    check saw (DNS rebinding): no request reaches the receiver; with the setting it does."""
    url, hits = loopback_receiver

    async def post(allow_private: bool) -> int:
        client = AsyncHTTPClient(force_instance=True,
                                 resolver=GuardedResolver(allow_private=allow_private))
        try:
            reply = await client.fetch(url, method="POST", body=b"{}", raise_error=False)
            return reply.code
        finally:
            client.close()

    with pytest.raises(RefusedTarget):
        asyncio.run(post(allow_private=False))
    assert hits == []
    assert asyncio.run(post(allow_private=True)) == 204
    assert hits == ["/hook"]


def test_signature_and_backoff() -> None:
    mac = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", b'{"a":1}') == f"sha256={mac}"
    for attempt in range(1, 12):
        delay = backoff(10.0, 3600.0, attempt)
        full = min(3600.0, 10.0 * 2 ** (attempt - 1))
        assert full / 2 <= delay <= full
