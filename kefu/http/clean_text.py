"""Free text from clients: which characters are refused, at the edge.

Refused everywhere: the C0 and C1 control characters (NUL included), DEL, the Unicode
bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069: the
"Trojan Source" characters that make text display in another order than it is stored)
and the byte-order mark / zero-width no-break space U+FEFF. Messages and notes may still
hold tab, line feed and carriage return; names and other one-line fields may not, nor
U+2028/U+2029. Zero-width joiners (emoji sequences) and the left-to-right / right-to-left
marks (ordinary in Arabic and Hebrew text) are allowed. A refused value is a 400 (REST)
or a ``bad_frame`` error frame (WebSocket) naming the field; nothing is stored or
rewritten silently.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff"
_IN_TEXT = re.compile(f"[{_CONTROLS}]")
_IN_LINE = re.compile(f"[{_CONTROLS}\t\n\r\u2028\u2029]")


def check_text(value: str) -> str:
    """A message body or note: refuses control and bidi-override characters."""
    found = _IN_TEXT.search(value)
    if found:
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed")
    return value


def check_line(value: str) -> str:
    """A name or other one-line field: as :func:`check_text`, and no line breaks or tabs."""
    found = _IN_LINE.search(value)
    if found:
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


CleanText = Annotated[str, AfterValidator(check_text)]
CleanLine = Annotated[str, AfterValidator(check_line)]
