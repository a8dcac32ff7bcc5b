"""CSV export cells are neutralized against formula injection (OWASP);
kefu/http/export_formats.py."""

from __future__ import annotations

import csv
import io

from kefu.http.export_formats import FORMATS, csv_cell


def test_formula_starts_get_a_quote() -> None:
    for bad in ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]:
        assert csv_cell(bad) == "'" + bad
    assert csv_cell("你好 =1") == "你好 =1"
    assert csv_cell(None) == ""
    assert csv_cell(-3) == -3  # a number is not text a spreadsheet evaluates


def test_exported_rows_carry_the_neutralized_cells() -> None:
    row = {"id": "msg_1", "session_id": "k:a", "seq": 1, "from": "k", "to": "a",
           "content_type": "Text", "content": "=cmd|' /C calc'!A0", "timestamp": "t",
           "url": None}
    text = FORMATS["csv"].encode([row], True).decode()
    (parsed,) = list(csv.reader(io.StringIO(text)))
    assert parsed[6] == "'=cmd|' /C calc'!A0"
    assert FORMATS["json"].encode([row], True).decode().count("=cmd|") == 1  # verbatim
