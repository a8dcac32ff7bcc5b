"""Passwords: scrypt at OWASP's cost by default, the cost stored beside each hash (old
hashes still verify, and are upgraded on login), a constant-time comparison, and one
hash of the same cost whether the user exists or not."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest

import kefu.persistence.users as users_mod
from kefu.config import Settings
from kefu.domain import UserType
from kefu.persistence.redis import Store
from kefu.persistence.users import DEFAULT_SCRYPT_N, UserStore, hash_cost, hash_password
from tests.helpers import Api, ServerProcess, uid

CHEAP = 1024


def test_default_cost_is_owasp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without KEFU_SCRYPT_N the server hashes at N=2**17, r=8, p=1 (one real hash)."""
    monkeypatch.delenv("KEFU_SCRYPT_N", raising=False)
    assert Settings().scrypt_n == DEFAULT_SCRYPT_N == 2**17
    salt, stored = hash_password("correct horse")
    assert stored.startswith("scrypt$131072$8$1$") and len(stored.split("$")[-1]) == 64
    assert users_mod.check_password("correct horse", salt, stored)


def test_the_test_server_really_uses_its_cheap_cost(server: ServerProcess, admin: Api) -> None:
    """KEFU_SCRYPT_N reaches the server: the stored hash says N=1024 (tests/helpers.py)."""
    import redis  # noqa: PLC0415

    user_id = uid("kefu")
    admin.ok("POST", "/api/users/create", {"id": user_id, "name": "n", "user_type": "kefu",
                                           "password": "pw"})
    sock = next((server.data_dir / "redis").glob("*.sock"))
    r = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    stored = r.hget(f"kefu:user:{user_id}", "pw_hash")
    r.close()
    assert stored is not None and hash_cost(stored) == (CHEAP, 8, 1)
    assert "pw" not in stored


@pytest.fixture()
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The N of every scrypt call made by kefu.persistence.users."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kw: Any) -> bytes:
        calls.append(kw["n"])
        return real(password, **kw)

    monkeypatch.setattr(users_mod.hashlib, "scrypt", counting)
    yield calls


def test_unknown_user_costs_one_hash_like_a_wrong_password(store: Store,
                                                          scrypt_calls: list[int]) -> None:
    users = UserStore(store, 3600, scrypt_n=CHEAP)
    users.create(name="k", user_type=UserType.KEFU, user_id="k1", password="right")
    guest = users.create(name="g", user_type=UserType.KEHU)  # no password at all
    assert guest is not None
    scrypt_calls.clear()
    for user_id, password in (("k1", "wrong"), ("nobody", "wrong"), (guest.id, "x"),
                              ("bad id with spaces", "x")):
        before = len(scrypt_calls)
        assert users.verify_password(user_id, password) is None
        assert scrypt_calls[before:] == [CHEAP], (user_id, scrypt_calls)
    assert users.verify_password("k1", "right") is not None


def test_comparison_is_constant_time(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(users_mod.hmac, "compare_digest", spy)
    users = UserStore(store, 3600, scrypt_n=CHEAP)
    users.create(name="k", user_type=UserType.KEFU, user_id="k1", password="right")
    assert users.verify_password("k1", "wrong") is None
    assert users.verify_password("k1", "right") is not None
    assert len(seen) == 2


def test_old_hashes_verify_and_are_upgraded_on_login(store: Store) -> None:
    """A hash from before the cost was stored (bare hex, N=2**14) and one at another N
    both verify; a right password re-hashes at today's cost."""
    users = UserStore(store, 3600, scrypt_n=CHEAP)
    users.create(name="k", user_type=UserType.KEFU, user_id="old")
    salt = bytes(range(16))
    legacy = hashlib.scrypt(b"right", salt=salt, n=2**14, r=8, p=1, dklen=32).hex()
    users.set_fields("old", pw_salt=salt.hex(), pw_hash=legacy)
    assert users.verify_password("old", "wrong") is None
    assert store.client.hget(store.keys.user("old"), "pw_hash") == legacy  # untouched
    assert users.verify_password("old", "right") is not None
    upgraded = store.client.hget(store.keys.user("old"), "pw_hash")
    assert upgraded is not None and hash_cost(upgraded) == (CHEAP, 8, 1)
    assert users.verify_password("old", "right") is not None
    # a hash made at another (stored) cost verifies with that cost
    other = UserStore(store, 3600, scrypt_n=2048)
    other.create(name="m", user_type=UserType.KEFU, user_id="mid", password="pw2")
    assert hash_cost(store.client.hget(store.keys.user("mid"), "pw_hash") or "")[0] == 2048
    assert users.verify_password("mid", "pw2") is not None


def test_no_password_material_in_replies(server: ServerProcess, admin: Api) -> None:
    user_id = uid("kefu")
    created = admin.ok("POST", "/api/users/create", {"id": user_id, "name": "n",
                                                     "user_type": "kefu",
                                                     "password": "s3cret-pw"})
    shown = admin.ok("GET", f"/api/users/{user_id}")
    for body in (created, shown):
        text = str(body)
        assert "s3cret" not in text and "scrypt$" not in text and "pw_" not in text
