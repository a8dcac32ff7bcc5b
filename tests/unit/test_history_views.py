"""session_view and statistics on hand-built session hashes (kefu/persistence/history.py).

The meta dicts have the fields (as decoded strings) that ASSIGN_LUA, APPEND_LUA and
CLOSE_LUA in kefu/persistence/redis.py and the Session actor write.
"""

from __future__ import annotations

import re

import pytest

from kefu.persistence import history
from kefu.persistence.history import session_view, statistics

T0 = 1704103200.0  # 2024-01-01T10:00:00Z
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def active_meta(**extra: str) -> dict[str, str]:
    meta = {
        "session_id": "kehu_001:kefu_001", "kehu_id": "kehu_001", "kefu_id": "kefu_001",
        "kehu_name": "客户张三", "kefu_name": "客服小王", "status": "active",
        "created_at": str(T0), "updated_at": str(T0 + 1800.4), "opened_at": str(T0),
        "seq": "15", "message_count": "15", "kefu_messages": "7", "kehu_messages": "8",
        "last_message": "好的，我会处理这个问题", "awaiting_since": "",
        "first_response_time": "30.04", "resp_total": "91.0", "resp_count": "2",
    }
    meta.update(extra)
    return meta


def ended_meta(**extra: str) -> dict[str, str]:
    meta = active_meta(status="completed", ended_at=str(T0 + 3600), updated_at=str(T0 + 3600),
                       end_reason="ended")
    meta.update(extra)
    return meta


@pytest.fixture
def frozen_now(monkeypatch):
    def freeze(t: float) -> None:
        monkeypatch.setattr(history, "now", lambda: t)
    return freeze


# --- session_view ------------------------------------------------------------------------

def test_session_view_seed_fields():
    v = session_view(active_meta())
    assert v["session_id"] == "kehu_001:kefu_001"
    assert v["kefu_id"] == "kefu_001"
    assert v["kefu_name"] == "客服小王"
    assert v["kehu_id"] == "kehu_001"
    assert v["kehu_name"] == "客户张三"
    assert v["status"] == "active"
    assert v["created_at"] == "2024-01-01T10:00:00Z"
    assert v["updated_at"] == "2024-01-01T10:30:00Z"
    assert v["message_count"] == 15 and isinstance(v["message_count"], int)
    assert v["last_message"] == "好的，我会处理这个问题"


def test_session_view_extras():
    v = session_view(active_meta())
    assert v["last_seq"] == 15 and isinstance(v["last_seq"], int)
    assert v["ended_at"] is None
    assert v["transferred_from"] is None
    assert v["transferred_to"] is None


def test_session_view_timestamps_iso_z():
    v = session_view(ended_meta())
    for key in ("created_at", "updated_at", "ended_at"):
        assert ISO_Z.match(v[key]), (key, v[key])
    assert v["ended_at"] == "2024-01-01T11:00:00Z"
    assert v["status"] == "completed"


def test_session_view_fresh_session():
    # What ASSIGN_LUA writes for a brand-new session with no waiting messages.
    meta = {"session_id": "u:k", "kehu_id": "u", "kefu_id": "k", "status": "active",
            "created_at": str(T0), "updated_at": str(T0), "opened_at": str(T0), "seq": "0",
            "message_count": "0", "kefu_messages": "0", "kehu_messages": "0",
            "last_message": "", "kehu_name": "", "kefu_name": ""}
    v = session_view(meta)
    assert v["message_count"] == 0
    assert v["last_seq"] == 0
    assert v["last_message"] is None
    assert v["kefu_name"] == "k"  # names fall back to ids
    assert v["kehu_name"] == "u"


def test_session_view_transfer_links():
    old = session_view(ended_meta(status="transferred", transferred_to="kefu_002"))
    assert old["status"] == "transferred"
    assert old["transferred_to"] == "kefu_002"
    new = session_view(active_meta(session_id="kehu_001:kefu_002", kefu_id="kefu_002",
                                   transferred_from="kefu_001"))
    assert new["transferred_from"] == "kefu_001"


# --- statistics --------------------------------------------------------------------------

def test_statistics_seed_fields_and_types():
    s = statistics(ended_meta())
    assert set(s) == {"total_messages", "kefu_messages", "kehu_messages",
                      "avg_response_time_seconds", "first_response_time_seconds",
                      "duration_seconds", "satisfaction_score", "rating_comment"}  # + comment
    assert (s["total_messages"], s["kefu_messages"], s["kehu_messages"]) == (15, 7, 8)
    for key in ("total_messages", "kefu_messages", "kehu_messages", "duration_seconds"):
        assert isinstance(s[key], int), key


def test_statistics_average_from_resp_total_and_count():
    assert statistics(ended_meta())["avg_response_time_seconds"] == 45.5
    assert statistics(ended_meta(resp_total="100", resp_count="3"))[
        "avg_response_time_seconds"] == 33.3


def test_statistics_first_response_rounded():
    assert statistics(ended_meta())["first_response_time_seconds"] == 30.0


def test_statistics_no_replies_yet():
    meta = ended_meta()
    for key in ("first_response_time", "resp_total", "resp_count"):
        del meta[key]
    s = statistics(meta)
    assert s["avg_response_time_seconds"] is None
    assert s["first_response_time_seconds"] is None


def test_statistics_satisfaction():
    assert statistics(ended_meta())["satisfaction_score"] is None
    assert statistics(ended_meta(satisfaction="4"))["satisfaction_score"] == 4.0


def test_duration_uses_ended_at_when_not_active(frozen_now):
    frozen_now(T0 + 99999)
    assert statistics(ended_meta())["duration_seconds"] == 3600
    transferred = ended_meta(status="transferred", ended_at=str(T0 + 600.9))
    assert statistics(transferred)["duration_seconds"] == 600


def test_duration_of_active_session_runs_to_now(frozen_now):
    frozen_now(T0 + 1234.5)
    assert statistics(active_meta())["duration_seconds"] == 1234


def test_duration_of_reopened_active_session_ignores_stale_ended_at(frozen_now):
    frozen_now(T0 + 5000)
    meta = active_meta(ended_at=str(T0 + 10))
    assert statistics(meta)["duration_seconds"] == 5000
