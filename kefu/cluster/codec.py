"""Actor messages and replies as JSON, to cross a process: the inbox streams carry
messages, the node channels carry replies.

A message is ``{"t": <class name>, "f": {field: value}}``; enums travel as their values and
come back as members (from the class's type hints). Only the plain-data messages of
``actors/messages.py`` travel; what holds live objects (an ``AppendOutcome``) never leaves
its node. A reply is ``{"ok": true, "data": …}`` or ``{"ok": false, "reason", "params"}``;
a pub/sub payload carries its origin first (:func:`payload`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from typing import Any

import orjson

from kefu.actors import messages
from kefu.actors.messages import Accepted, ActorMessage, Rejected
from kefu.protocol import RejectReason

LOCAL_ONLY = {"AppendOutcome", "AppendsSettled", "ActorDied", "Crash"}


@functools.cache
def _classes() -> dict[str, type[ActorMessage]]:
    return {name: cls for name, cls in vars(messages).items()
            if isinstance(cls, type) and issubclass(cls, ActorMessage) and cls is not ActorMessage
            and name not in LOCAL_ONLY}


@functools.cache
def _enum_fields(cls: type[ActorMessage]) -> dict[str, type[enum.Enum]]:
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        for candidate in (hint, *typing.get_args(hint)):
            if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
                out[name] = candidate
    return out


def travels(msg: ActorMessage) -> bool:
    """Can ``msg`` be sent to another node?"""
    return type(msg).__name__ in _classes()


def encode_message(msg: ActorMessage) -> dict[str, Any]:
    return {"t": type(msg).__name__, "f": {f.name: getattr(msg, f.name)
                                          for f in dataclasses.fields(msg)}}


def decode_message(data: dict[str, Any]) -> ActorMessage:
    """The inverse of :func:`encode_message`; raises ``KeyError``/``TypeError`` on junk."""
    cls = _classes()[data["t"]]
    fields = dict(data["f"])
    for name, kind in _enum_fields(cls).items():
        if fields.get(name) is not None:
            fields[name] = kind(fields[name])
    return cls(**fields)


def encode_reply(result: Any) -> dict[str, Any]:
    if isinstance(result, Rejected):
        return {"ok": False, "reason": result.reason.value, "params": result.params}
    if isinstance(result, Accepted):
        return {"ok": True, "data": result.data}
    return {"ok": True, "data": None if result is None else {"value": result}}


def decode_reply(data: dict[str, Any]) -> Accepted | Rejected:
    if data.get("ok"):
        return Accepted(data=data.get("data") or {})
    return Rejected(reason=RejectReason(data["reason"]), params=data.get("params") or {})


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def payload(header: dict[str, Any], frame: bytes = b"", origin: int = 0) -> bytes:
    """A pub/sub payload: ``<origin salt>\\n<header JSON>\\n<frame>``; a node skips its
    own broadcasts without decoding them (``origin`` 0: sent to one node)."""
    return b"%d\n" % origin + dumps(header) + b"\n" + frame
