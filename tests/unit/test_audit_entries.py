"""Audit entries (kefu/persistence/audit.py, kefu/http/handlers/audit.py) without Redis:
the stream fields, how they read back, and what of a request body is kept."""

from __future__ import annotations

from kefu.domain import parse_iso
from kefu.http.audit_trail import masked
from kefu.persistence.audit import entry_fields, entry_out


def test_fields_round_trip() -> None:
    fields = entry_fields(by="admin", role="admin", action="DELETE /api/users/{user_id}",
                          target="u1", path="/api/users/u1", status=200, request_id="r" * 32,
                          ip="10.0.0.1", detail={"body": {"a": 1}})
    assert all(isinstance(v, str) for v in fields.values())
    out = entry_out("1-0", fields)
    assert out["id"] == "1-0" and out["status"] == 200 and out["detail"] == {"body": {"a": 1}}
    assert (out["by"], out["target"], out["request_id"]) == ("admin", "u1", "r" * 32)
    assert abs(parse_iso(out["at"]) - float(fields["ts"])) < 1


def test_a_message_delete_entry_reads_back() -> None:
    """The shape messages_query.py's delete script writes."""
    raw = {"ts": "1700000000.123", "by": "admin", "role": "admin",
           "action": "message.delete", "target": "m1", "detail": '{"seq": 3}'}
    out = entry_out("5-1", raw)
    assert out["at"].startswith("2023-11-14T22:13:20") and out["status"] is None
    assert out["detail"] == {"seq": 3} and out["request_id"] is None and out["path"] is None


def test_secrets_are_left_out_and_named() -> None:
    removed: list[str] = []
    body = {"name": "x", "password": "p", "nested": {"pw_hash": "h", "token": "t", "ok": 1},
            "list": [{"Secret": 1}], "long": "y" * 500}
    kept = masked(body, removed)
    assert kept == {"name": "x", "nested": {"ok": 1}, "list": [{}],
                    "long": "y" * 200 + "…"}
    assert sorted(removed) == ["Secret", "password", "pw_hash", "token"]
    assert len(masked({str(i): i for i in range(100)}, [])) == 50
