"""A session actor's state, declared: what it reads from its Redis hash, in one place.

:meth:`SessionState.from_meta` is pure (unit-tested in ``tests/unit/test_actor_state.py``):
the session hash → the state; a missing hash is a session that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kefu.domain import SessionStatus


def _float_or_none(raw: str | None) -> float | None:
    return float(raw) if raw not in (None, "") else None


@dataclass
class SessionState:
    """Owned by the session actor's thread."""

    sid: str
    exists: bool = False
    kehu_id: str = ""
    kefu_id: str = ""
    kehu_name: str = ""
    status: SessionStatus | None = None  # None: no such session
    seq: int = 0  # the last stored seq
    read: dict[str, int] = field(default_factory=lambda: {"kehu": 0, "kefu": 0})
    awaiting_since: float | None = None  # the kehu has waited for an answer since then
    first_response: float | None = None  # seconds the kefu took to answer first
    resp_total: float = 0.0
    resp_count: int = 0
    generation: int = 0  # bumped by the dispatcher's scripts at every open and close

    @classmethod
    def from_meta(cls, sid: str, meta: dict[str, str]) -> SessionState:
        """The session hash ``meta`` (``HGETALL``; empty when there is none) → state."""
        if not meta:
            return cls(sid=sid)
        status = meta.get("status")
        kehu_id = meta.get("kehu_id", "")
        return cls(
            sid=sid, exists=True, kehu_id=kehu_id, kefu_id=meta.get("kefu_id", ""),
            kehu_name=meta.get("kehu_name") or kehu_id,
            status=SessionStatus(status) if status in SessionStatus._value2member_map_ else None,
            seq=int(meta.get("seq") or 0),
            read={"kehu": int(meta.get("read_kehu") or 0),
                  "kefu": int(meta.get("read_kefu") or 0)},
            awaiting_since=_float_or_none(meta.get("awaiting_since")),
            first_response=_float_or_none(meta.get("first_response_time")),
            resp_total=float(meta.get("resp_total") or 0),
            resp_count=int(meta.get("resp_count") or 0),
            generation=int(meta.get("generation") or 0))

    @property
    def active(self) -> bool:
        return self.status is SessionStatus.ACTIVE

    def side_of(self, user_id: str) -> str | None:
        """``kehu`` or ``kefu`` for a participant, else None (also for a missing session)."""
        if not self.exists:
            return None
        if user_id == self.kehu_id:
            return "kehu"
        if user_id == self.kefu_id:
            return "kefu"
        return None

    def answered(self, at: float) -> tuple[list[str | int | float], float | None]:
        """The kefu sends at ``at``: update the response figures → (the session-hash
        fields to write with the message, the seconds it answered after, if it did)."""
        if self.awaiting_since is None:
            return [], None
        response_s = max(at - self.awaiting_since, 0.0)
        meta: list[str | int | float] = []
        if self.first_response is None:
            self.first_response = response_s
            meta += ["first_response_time", response_s]
        self.resp_total += response_s
        self.resp_count += 1
        self.awaiting_since = None
        meta += ["awaiting_since", "", "resp_total", self.resp_total,
                 "resp_count", self.resp_count]
        return meta, response_s
