"""The log line formats (kefu/log_format.py): text unchanged, JSON one object a line with
the request id of the task that logged it, and no id leaking from one task to the next."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

from kefu.log_format import EVENT_ATTR, REQUEST_ID, handler


def capture(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    logger = logging.getLogger(f"kefu.test.{log_format}")
    logger.handlers[:] = [handler(log_format, out)]
    logger.propagate, logger.level = False, logging.INFO
    return logger, out


def test_text_lines_are_as_before() -> None:
    logger, out = capture("text")
    REQUEST_ID.set(None)
    logger.warning("listening on %s", 8080)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING kefu\.test\.text: "
                        r"listening on 8080\n", out.getvalue())


def test_json_lines_carry_their_own_request_id_only() -> None:
    logger, out = capture("json")

    async def request(rid: str, mine: asyncio.Event, other: asyncio.Event) -> None:
        REQUEST_ID.set(rid)
        mine.set()
        await other.wait()  # the other task has set its id in the meantime
        logger.info("handled %s", rid, extra={EVENT_ATTR: {"event": "e", "fields": {"n": 1}}})

    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        await asyncio.gather(asyncio.create_task(request("r-a", a, b)),
                             asyncio.create_task(request("r-b", b, a)))
        logger.error("after the requests")

    asyncio.run(main())
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {(x["message"], x.get("request_id")) for x in lines} == {
        ("handled r-a", "r-a"), ("handled r-b", "r-b"), ("after the requests", None)}
    first = lines[0]
    assert first["logger"] == "kefu.test.json" and first["level"] == "info"
    assert first["event"] == "e" and first["fields"] == {"n": 1}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
