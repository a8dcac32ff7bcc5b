"""parse_frame on invalid frames: FrameError codes, details and ref (kefu/http/wire.py)."""

from __future__ import annotations

import json

import orjson
import pytest

from kefu.http.wire import FrameError, parse_frame


def error(obj, **kw) -> FrameError:
    raw = obj if isinstance(obj, str | bytes) else orjson.dumps(obj)
    with pytest.raises(FrameError) as info:
        parse_frame(raw, **kw)
    return info.value


@pytest.mark.parametrize("raw", ["", "{", "{'type': 'ping'}", "ping", b"\xff\xfe",
                                 '{"type": "ping",}'])
def test_invalid_json(raw):
    assert error(raw).code == "invalid_json"


@pytest.mark.parametrize("raw", ["[]", "null", "1", '"ping"', '[{"type": "ping"}]'])
def test_non_object_is_bad_frame(raw):
    assert error(raw).code == "bad_frame"


@pytest.mark.parametrize("obj", [{}, {"type": "hello"}, {"type": None}, {"type": 1},
                                 {"type": ["ping"]}, {"type": "PING"}, {"kind": "ping"}])
def test_unknown_or_missing_type(obj):
    assert error(obj).code == "unknown_type"


def test_unknown_type_carries_ref():
    assert error({"type": "nope", "client_msg_id": "c9"}).ref == "c9"


@pytest.mark.parametrize(("obj", "field"), [
    ({"type": "message", "client_msg_id": "c1"}, "content"),
    ({"type": "message", "content": "hi"}, "client_msg_id"),
    ({"type": "message", "client_msg_id": "c1", "content": 123}, "content"),
    ({"type": "message", "client_msg_id": "c1", "content": ""}, "content"),
    ({"type": "message", "client_msg_id": "", "content": "x"}, "client_msg_id"),
    ({"type": "message", "client_msg_id": "c" * 129, "content": "x"}, "client_msg_id"),
    ({"type": "message", "client_msg_id": "c1", "content": "x", "url": 5}, "url"),
    ({"type": "read"}, "session_id"),
    ({"type": "read", "session_id": "u1:k1", "seq": -1}, "seq"),
    ({"type": "read", "session_id": "u1:k1", "seq": "abc"}, "seq"),
    ({"type": "typing", "session_id": 42}, "session_id"),
    ({"type": "resume"}, "since"),
    ({"type": "resume", "since": [1, 2]}, "since"),
    ({"type": "switch"}, "customer_id"),
    ({"type": "switch", "customer_id": 7}, "customer_id"),
    ({"type": "rate", "score": 3}, "session_id"),
    ({"type": "rate", "session_id": "u1:k1"}, "score"),
    ({"type": "rate", "session_id": "u1:k1", "score": 4.5}, "score"),
    ({"type": "request_service", "note": 1}, "note"),
    ({"type": "request_service", "team": "Not A Team"}, "team"),
    ({"type": "accept"}, "offer_id"),
    ({"type": "decline", "offer_id": ""}, "offer_id"),
])
def test_missing_or_wrong_typed_field(obj, field):
    e = error(obj)
    assert e.code == "bad_frame"
    assert field in e.details
    assert isinstance(e.details[field], str) and e.details[field]


def test_bad_frame_names_every_bad_field():
    e = error({"type": "rate", "score": 9})
    assert e.code == "bad_frame"
    assert {"session_id", "score"} <= set(e.details)


@pytest.mark.parametrize("score", [0, 6, -1, 100])
def test_rate_score_out_of_bounds(score):
    e = error({"type": "rate", "session_id": "u1:k1", "score": score})
    assert e.code == "bad_frame"
    assert "score" in e.details


@pytest.mark.parametrize("ct", ["text", "Sticker", "System", "", 1])
def test_content_type_not_in_enum(ct):
    e = error({"type": "message", "client_msg_id": "c1", "content": "x", "content_type": ct})
    assert e.code == "bad_frame"
    assert "content_type" in e.details


def test_priority_not_in_enum():
    e = error({"type": "request_service", "priority": "urgent"})
    assert e.code == "bad_frame"
    assert "priority" in e.details


def test_content_too_long():
    e = error({"type": "message", "client_msg_id": "c1", "content": "x" * 11},
              max_text_chars=10)
    assert e.code == "content_too_long"
    assert "content" in e.details
    assert e.ref == "c1"


def test_content_too_long_default_limit_counts_characters():
    ok = {"type": "message", "client_msg_id": "c", "content": "字" * 4000}
    assert len(parse_frame(orjson.dumps(ok)).content) == 4000
    assert error({**ok, "content": "字" * 4001}).code == "content_too_long"


def test_resume_negative_seq_names_the_session():
    e = error({"type": "resume", "since": {"u1:k1": -1}})
    assert e.code == "bad_frame"
    assert any(k.startswith("since") and "u1:k1" in k for k in e.details)


def test_resume_non_integer_seq():
    e = error({"type": "resume", "since": {"u1:k1": "many"}})
    assert e.code == "bad_frame"
    assert any(k.startswith("since") for k in e.details)


def test_resume_over_200_sessions():
    e = error({"type": "resume", "since": {f"u:k{i}": 0 for i in range(201)}})
    assert e.code == "bad_frame"
    assert "since" in e.details


def test_bad_frame_carries_client_msg_id_as_ref():
    e = error({"type": "message", "client_msg_id": "abc", "content": 1})
    assert e.ref == "abc"


def test_ref_none_without_client_msg_id():
    assert error({"type": "rate", "session_id": "u1:k1", "score": 0}).ref is None
    assert error({"type": "nope"}).ref is None


def test_ref_none_when_client_msg_id_not_a_string():
    assert error({"type": "message", "client_msg_id": 5, "content": "x"}).ref is None


def test_frame_error_fields():
    e = FrameError("bad_frame", "invalid frame")
    assert (e.code, e.message, e.details, e.ref) == ("bad_frame", "invalid frame", {}, None)
    assert str(e) == "invalid frame"


@pytest.mark.parametrize("score", [True, "5", 4.0])
def test_rate_score_must_be_a_json_integer(score: object) -> None:
    raw = json.dumps({"type": "rate", "session_id": "a:b", "score": score})
    with pytest.raises(FrameError) as err:
        parse_frame(raw)
    assert err.value.code == "bad_frame" and "score" in err.value.details


def test_seq_as_string_is_refused() -> None:
    with pytest.raises(FrameError) as err:
        parse_frame(json.dumps({"type": "read", "session_id": "a:b", "seq": "3"}))
    assert "seq" in err.value.details


def test_content_over_the_hard_cap_still_says_too_long() -> None:
    raw = json.dumps({"type": "message", "client_msg_id": "m", "content": "x" * 70_000})
    with pytest.raises(FrameError) as err:
        parse_frame(raw, max_text_chars=4000)
    assert err.value.code == "content_too_long"
