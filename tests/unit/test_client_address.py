"""The client's address behind trusted proxies (kefu/http/client_address.py)."""

from __future__ import annotations

import pytest

from kefu.http.client_address import client_address, parse_networks

TRUSTED = "10.0.0.0/8, 127.0.0.1, ::1"


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", "") == "203.0.113.9"


def test_a_client_cannot_forge_the_header_from_outside() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", TRUSTED) == "203.0.113.9"


def test_the_last_untrusted_hop_is_the_client() -> None:
    # the client forged "1.2.3.4"; our proxy 10.0.0.5 appended the real peer 198.51.100.7
    assert client_address("10.0.0.5", "1.2.3.4, 198.51.100.7", TRUSTED) == "198.51.100.7"
    # two proxies of ours in a row
    assert client_address("127.0.0.1", "198.51.100.7, 10.1.2.3", TRUSTED) == "198.51.100.7"


def test_all_hops_trusted_gives_the_leftmost_and_junk_stops_the_walk() -> None:
    assert client_address("127.0.0.1", "10.0.0.1, 10.0.0.2", TRUSTED) == "10.0.0.1"
    assert client_address("127.0.0.1", "garbage, 198.51.100.7", TRUSTED) == "198.51.100.7"
    assert client_address("127.0.0.1", "unknown", TRUSTED) == "127.0.0.1"


def test_ipv6_and_mapped_ipv4_peers() -> None:
    assert client_address("::1", "2001:db8::5", TRUSTED) == "2001:db8::5"
    assert client_address("::ffff:10.0.0.5", "198.51.100.7", TRUSTED) == "198.51.100.7"


def test_a_bad_setting_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_networks("10.0.0.0/8, not-an-ip")
