"""``kefu ws``: a small WebSocket client for trying the protocol from a shell.

It connects with a token, sends the given frames in order, prints every frame it
receives as one JSON line, and exits after ``--seconds`` (or runs until Ctrl-C with
``--follow``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from urllib.parse import quote

from tornado.websocket import websocket_connect


async def run_client(url: str, token: str, frames: list[str], seconds: float,
                     follow: bool) -> int:
    conn = await websocket_connect(f"{url}?token={quote(token)}")
    loop = asyncio.get_running_loop()
    deadline = None if follow else loop.time() + seconds
    hello = await conn.read_message()
    print(hello, flush=True)
    if hello is None:
        print(f"closed: {conn.close_code} {conn.close_reason}", file=sys.stderr)
        return 1
    for raw in frames:
        json.loads(raw)  # fail early on a typo
        await conn.write_message(raw)
    while True:
        timeout = None if deadline is None else max(deadline - loop.time(), 0)
        if timeout == 0:
            break
        try:
            msg = await asyncio.wait_for(conn.read_message(), timeout)
        except TimeoutError:
            break
        if msg is None:
            print(f"closed: {conn.close_code} {conn.close_reason}", file=sys.stderr)
            break
        print(msg, flush=True)
    conn.close()
    return 0


def main(url: str, token: str, frames: list[str], seconds: float, follow: bool) -> int:
    try:
        return asyncio.run(run_client(url, token, frames, seconds, follow))
    except KeyboardInterrupt:
        return 0
