"""The WebSocket handshake's Origin check (kefu/http/ws_guard.py), as a pure function."""

from __future__ import annotations

import pytest

from kefu.http.ws_guard import origin_allowed

HOST = "chat.example.com:8080"
LIST = "https://shop.example.com, http://widget.example.org:8443/"


@pytest.mark.parametrize("origin", ["http://chat.example.com:8080",
                                    "https://CHAT.example.com:8080",
                                    "https://shop.example.com", "HTTPS://Shop.Example.com",
                                    "http://widget.example.org:8443"])
def test_allowed(origin: str) -> None:
    assert origin_allowed(origin, HOST, LIST)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://chat.example.com",
                                    "http://chat.example.com:8081",
                                    "http://shop.example.com",  # scheme matters
                                    "https://shop.example.com:444",
                                    "https://shop.example.com.evil.example",
                                    "http://widget.example.org", "null", "", "garbage"])
def test_refused(origin: str) -> None:
    assert not origin_allowed(origin, HOST, LIST)


def test_default_is_same_host_only_and_star_allows_any() -> None:
    assert origin_allowed("http://chat.example.com:8080", HOST, "")
    assert not origin_allowed("https://shop.example.com", HOST, "")
    assert origin_allowed("https://anything.example", HOST, "*")
    assert origin_allowed("null", HOST, "*")
