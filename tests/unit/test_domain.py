"""Time helpers and session ids (kefu/domain.py)."""

from __future__ import annotations

import pytest

from kefu.domain import iso, parse_iso, session_id, split_session_id


def test_iso_epoch():
    assert iso(0) == "1970-01-01T00:00:00Z"


def test_iso_known_instant_utc_with_z():
    assert iso(1704103200) == "2024-01-01T10:00:00Z"


def test_iso_truncates_to_seconds():
    assert iso(1704103200.987) == "2024-01-01T10:00:00Z"


def test_iso_none():
    assert iso(None) is None


@pytest.mark.parametrize("ts", [0, 1704103200, 1_900_000_000, 86399])
def test_round_trip(ts):
    text = iso(ts)
    assert text.endswith("Z")
    assert parse_iso(text) == ts


def test_round_trip_drops_fraction():
    assert parse_iso(iso(1704103200.75)) == 1704103200


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-01T10:00:00Z", 1704103200),
    ("2024-01-01T18:00:00+08:00", 1704103200),
    ("2024-01-01T10:00:00", 1704103200),      # naive means UTC
    ("2024-01-01", 1704067200),               # a date is its midnight UTC
    ("  2024-01-01T10:00:00Z ", 1704103200),
    ("2024-01-01T10:00:00.500Z", 1704103200.5),
])
def test_parse_iso_forms(text, expected):
    assert parse_iso(text) == pytest.approx(expected)


def test_parse_iso_rejects_garbage():
    with pytest.raises(ValueError):
        parse_iso("yesterday")


def test_session_id():
    assert session_id("kehu_001", "kefu_001") == "kehu_001:kefu_001"


def test_split_session_id():
    assert split_session_id("kehu_001:kefu_001") == ("kehu_001", "kefu_001")


def test_split_inverts_session_id():
    assert split_session_id(session_id("a", "b")) == ("a", "b")


@pytest.mark.parametrize("sid", ["", "nocolon", ":kefu", "kehu:", ":", "a:b:c", "a::b"])
def test_split_malformed(sid):
    assert split_session_id(sid) is None
