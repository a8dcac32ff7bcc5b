"""Accept-Language and message texts (kefu/http/i18n.py)."""

from __future__ import annotations

import pytest

from kefu.http.i18n import MESSAGES, text, wants_english


@pytest.mark.parametrize("header", ["en", "EN", "en-US", "en-GB,en;q=0.9",
                                    "en-US,zh-CN;q=0.8", " en ", "en;q=0.8"])
def test_wants_english(header):
    assert wants_english(header)


@pytest.mark.parametrize("header", [None, "", "zh", "zh-CN,zh;q=0.9,en;q=0.8", "fr, en",
                                    "*", "de-DE"])
def test_not_english(header):
    assert not wants_english(header)


def test_chinese_by_default():
    assert text("not_found", False) == "资源不存在"


def test_english():
    assert text("not_found", True) == "Not found"


def test_formats_params_in_both_languages():
    assert text("session_transferred", True, to_kefu_id="kefu_002") == \
        "Session transferred to agent kefu_002"
    assert text("session_transferred", False, to_kefu_id="kefu_002") == \
        "会话已成功转接给客服 kefu_002"


def test_formats_several_params():
    assert text("switch_ok", True, kefu_id="k1", customer_id="c1") == \
        "Agent k1 switched to customer c1"


def test_missing_param_leaves_template():
    assert text("session_transferred", True) == "Session transferred to agent {to_kefu_id}"


def test_extra_params_ignored():
    assert text("ok", True, unused=1) == "Success"


def test_unknown_key_falls_back_to_key():
    assert text("no_such_key", False) == "no_such_key"
    assert text("no_such_key", True) == "no_such_key"


def test_every_message_has_both_languages():
    for key, (zh, en) in MESSAGES.items():
        assert zh and en, key
        assert zh != en, key
