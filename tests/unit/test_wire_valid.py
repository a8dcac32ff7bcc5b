"""parse_frame on valid frames of every type (kefu/http/wire.py)."""

from __future__ import annotations

import orjson
import pytest

from kefu.domain import Priority
from kefu.http.wire import (
    FRAME_TYPES,
    ContentType,
    MessageFrame,
    OfferAnswerFrame,
    PingFrame,
    RateFrame,
    ReadFrame,
    RequestServiceFrame,
    ResumeFrame,
    SwitchFrame,
    TypingFrame,
    parse_frame,
)


def parse(obj, **kw):
    return parse_frame(orjson.dumps(obj), **kw)


def test_message_minimal_defaults():
    f = parse({"type": "message", "client_msg_id": "c1", "content": "你好"})
    assert isinstance(f, MessageFrame)
    assert f.client_msg_id == "c1"
    assert f.content == "你好"
    assert f.content_type is ContentType.TEXT
    assert f.url is None
    assert f.session_id is None


def test_message_all_fields():
    f = parse({"type": "message", "client_msg_id": "c2", "content": "pic",
               "content_type": "Image", "url": "https://x/y.png", "session_id": "u1:k1"})
    assert f.content_type is ContentType.IMAGE
    assert f.url == "https://x/y.png"
    assert f.session_id == "u1:k1"


@pytest.mark.parametrize("ct", ["Text", "Image", "File", "Voice", "Video", "Link"])
def test_message_content_types(ct):
    f = parse({"type": "message", "client_msg_id": "c", "content": "x", "content_type": ct})
    assert f.content_type == ct


def test_message_accepts_str_and_bytes():
    raw = '{"type":"message","client_msg_id":"c","content":"hi"}'
    assert parse_frame(raw) == parse_frame(raw.encode())


def test_message_at_limit_is_accepted():
    f = parse({"type": "message", "client_msg_id": "c", "content": "字" * 10},
              max_text_chars=10)
    assert len(f.content) == 10


def test_unknown_extra_fields_ignored():
    f = parse({"type": "ping", "extra": 1})
    assert isinstance(f, PingFrame)


def test_read_with_and_without_seq():
    f = parse({"type": "read", "session_id": "u1:k1", "seq": 7})
    assert isinstance(f, ReadFrame)
    assert (f.session_id, f.seq) == ("u1:k1", 7)
    assert parse({"type": "read", "session_id": "u1:k1"}).seq is None


def test_typing():
    f = parse({"type": "typing", "session_id": "u1:k1"})
    assert isinstance(f, TypingFrame)
    assert f.session_id == "u1:k1"


def test_resume_since_mapping():
    f = parse({"type": "resume", "since": {"u1:k1": 3, "u1:k2": 0}})
    assert isinstance(f, ResumeFrame)
    assert f.since == {"u1:k1": 3, "u1:k2": 0}


def test_resume_empty_since():
    assert parse({"type": "resume", "since": {}}).since == {}


def test_resume_200_sessions_allowed():
    since = {f"u:k{i}": i for i in range(200)}
    assert parse({"type": "resume", "since": since}).since == since


def test_request_service_defaults_and_fields():
    f = parse({"type": "request_service"})
    assert isinstance(f, RequestServiceFrame)
    assert f.priority is Priority.NORMAL
    assert f.note is None
    f = parse({"type": "request_service", "priority": "high", "note": "VIP"})
    assert f.priority is Priority.HIGH
    assert f.note == "VIP"


def test_switch():
    f = parse({"type": "switch", "customer_id": "kehu_1"})
    assert isinstance(f, SwitchFrame)
    assert f.customer_id == "kehu_1"


@pytest.mark.parametrize("score", [1, 3, 5])
def test_rate_scores_in_range(score):
    f = parse({"type": "rate", "session_id": "u1:k1", "score": score, "comment": "ok"})
    assert isinstance(f, RateFrame)
    assert f.score == score
    assert f.comment == "ok"


def test_rate_comment_optional():
    assert parse({"type": "rate", "session_id": "u1:k1", "score": 4}).comment is None


def test_ping():
    assert isinstance(parse({"type": "ping"}), PingFrame)


def test_offer_answers_and_request_service_team():
    for kind in ("accept", "decline"):
        f = parse({"type": kind, "offer_id": "of_1"})
        assert isinstance(f, OfferAnswerFrame) and (f.type, f.offer_id) == (kind, "of_1")
    assert parse({"type": "request_service", "team": "billing-2"}).team == "billing-2"


def test_every_frame_type_is_covered():
    assert set(FRAME_TYPES) == {"message", "read", "typing", "resume", "request_service",
                                "switch", "rate", "ping", "accept", "decline", "note"}
