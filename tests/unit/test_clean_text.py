"""Input hygiene: control and bidi-override characters are refused at the edge, in WS
frames (wire.py) and REST bodies (models.py), with the field named."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from kefu.http.clean_text import check_line, check_text
from kefu.http.models import CreateUserBody, GuestBody, TransferBody
from kefu.http.wire import FrameError, parse_frame

BAD = ["nul\x00", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x85", "rlo\u202eevil",
       "lri\u2066x", "bom\ufeffx"]


@pytest.mark.parametrize("value", BAD)
def test_text_and_lines_refuse_controls_and_bidi_overrides(value: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        check_text(value)
    with pytest.raises(ValueError, match="control character"):
        check_line(value)


def test_text_keeps_tabs_newlines_and_scripts_of_the_world() -> None:
    for ok in ["第一行\n第二行", "a\tb\r\n", "مرحبا\u200f", "👩\u200d💻", "plain"]:
        assert check_text(ok) == ok
    with pytest.raises(ValueError):
        check_line("two\nlines")
    with pytest.raises(ValueError):
        check_line("   ")


@pytest.mark.parametrize("value", BAD)
def test_a_chat_message_with_a_control_character_is_a_bad_frame(value: str) -> None:
    raw = json.dumps({"type": "message", "client_msg_id": "c1", "content": value})
    with pytest.raises(FrameError) as err:
        parse_frame(raw)
    assert err.value.code == "bad_frame" and "content" in err.value.details
    assert err.value.ref == "c1"


def test_names_and_notes_in_rest_bodies() -> None:
    with pytest.raises(ValidationError):
        GuestBody.model_validate_json(json.dumps({"name": "访客\u202e"}), strict=True)
    with pytest.raises(ValidationError):
        CreateUserBody.model_validate_json(json.dumps(
            {"name": "a\x00", "user_type": "kefu"}), strict=True)
    with pytest.raises(ValidationError):
        TransferBody.model_validate_json(json.dumps(
            {"to_kefu_id": "k1", "note": "x\x1b"}), strict=True)
    assert GuestBody.model_validate_json(json.dumps({"name": "客户张三"}), strict=True).name
