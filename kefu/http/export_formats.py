"""The files ``POST /api/messages/export`` streams: JSON (an array), NDJSON and CSV.

Each format has a head, a tail and an encoder for one batch of stored messages, so the
handler can stream batches as they are read. CSV cells are neutralized against formula
injection (OWASP): a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
return gets a leading ``'``; JSON and NDJSON stay verbatim.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

CSV_COLUMNS = ("id", "session_id", "seq", "from", "to", "content_type", "content",
               "timestamp", "url")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text that starts like a formula (``=``, ``+``,
    ``-``, ``@``, tab, CR) gets a leading ``'`` (OWASP, CSV injection). JSON and NDJSON
    exports stay verbatim."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_rows(batch: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    for m in batch:
        w.writerow([csv_cell(m.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


@dataclass(frozen=True)
class Format:
    media: str
    head: str
    tail: str
    encode: Callable[[list[dict[str, Any]], bool], bytes]


FORMATS = {
    "json": Format("application/json; charset=utf-8", "[", "]\n", lambda b, first: (
        b"" if first else b",") + b",".join(orjson.dumps(m) for m in b)),
    "ndjson": Format("application/x-ndjson; charset=utf-8", "", "", lambda b, _first: b"".join(
        orjson.dumps(m) + b"\n" for m in b)),
    # a BOM so spreadsheet programs read the UTF-8 (Chinese) text right
    "csv": Format("text/csv; charset=utf-8", "\ufeff" + _csv_rows([dict(zip(
        CSV_COLUMNS, CSV_COLUMNS, strict=True))]), "",
        lambda b, _first: _csv_rows(b).encode()),
}
