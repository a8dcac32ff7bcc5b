"""Users, passwords and tokens in Redis. Blocking calls: use them off the IOLoop
(``bridge.run_io``) or from an actor thread."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

import orjson

from kefu.domain import AgentStatus, User, UserType, iso, now
from kefu.persistence.redis import Store

USER_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password: str, salt: bytes | None = None) -> tuple[str, str]:
    """scrypt with a per-user salt → (salt hex, hash hex)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return salt.hex(), digest.hex()


def token_digest(token: str) -> str:
    """What Redis stores for a bearer token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user_from_hash(raw: dict[str, str]) -> User:
    return User(
        id=raw["id"],
        name=raw.get("name", raw["id"]),
        user_type=UserType(raw["user_type"]),
        status=AgentStatus(raw.get("status", "offline")),
        max_sessions=int(raw.get("max_sessions", 5)),
        permissions=orjson.loads(raw.get("permissions", "[]")),
        created_at=raw.get("created_at") or iso(now()) or "",
    )


class UserStore:
    """Reads and writes users and tokens."""

    def __init__(self, store: Store, token_ttl: int) -> None:
        self.store = store
        self.keys = store.keys
        self.r = store.client
        self.token_ttl = token_ttl

    def get(self, user_id: str) -> User | None:
        if not USER_ID_RE.match(user_id):
            return None
        raw = self.r.hgetall(self.keys.user(user_id))
        return _user_from_hash(raw) if raw else None

    def get_many(self, user_ids: list[str]) -> dict[str, User]:
        pipe = self.r.pipeline(transaction=False)
        for uid in user_ids:
            pipe.hgetall(self.keys.user(uid))
        out: dict[str, User] = {}
        for uid, raw in zip(user_ids, pipe.execute(), strict=True):
            if raw:
                out[uid] = _user_from_hash(raw)
        return out

    def create(
        self,
        *,
        name: str,
        user_type: UserType,
        user_id: str | None = None,
        password: str | None = None,
        max_sessions: int = 5,
        permissions: list[str] | None = None,
    ) -> User | None:
        """Create a user; None when the id is taken."""
        uid = user_id or f"{user_type.value}_{uuid.uuid4().hex[:12]}"
        created = now()
        fields: dict[str, str | int] = {
            "id": uid,
            "name": name,
            "user_type": user_type.value,
            "status": AgentStatus.OFFLINE.value
            if user_type is not UserType.KEHU
            else AgentStatus.ONLINE.value,
            "max_sessions": max_sessions,
            "permissions": orjson.dumps(permissions or []).decode(),
            "created_at": iso(created) or "",
        }
        if password is not None:
            salt, digest = hash_password(password)
            fields["pw_salt"], fields["pw_hash"] = salt, digest
        key = self.keys.user(uid)
        if not self.r.hsetnx(key, "id", uid):
            return None
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        pipe.zadd(self.keys.users, {uid: created})
        pipe.execute()
        return _user_from_hash({k: str(v) for k, v in fields.items()})

    def verify_password(self, user_id: str, password: str) -> User | None:
        if not USER_ID_RE.match(user_id):
            hash_password(password)  # same cost either way: no timing oracle
            return None
        raw = self.r.hgetall(self.keys.user(user_id))
        if not raw or "pw_hash" not in raw:
            hash_password(password)
            return None
        _, digest = hash_password(password, bytes.fromhex(raw["pw_salt"]))
        if not hmac.compare_digest(digest, raw["pw_hash"]):
            return None
        return _user_from_hash(raw)

    def set_fields(self, user_id: str, **fields: str | int) -> None:
        self.r.hset(self.keys.user(user_id), mapping=fields)

    def issue_token(self, user_id: str) -> tuple[str, float]:
        """A new opaque token for the user → (token, expires_at epoch).

        Redis keeps only the token's SHA-256 (key names, the user's token set, backups),
        so neither a key listing nor a backup file reveals a usable token."""
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.keys.token(digest), user_id, ex=self.token_ttl)
        pipe.sadd(self.keys.user_tokens(user_id), digest)
        pipe.execute()
        return token, now() + self.token_ttl

    def resolve_token(self, token: str) -> User | None:
        if not token or len(token) > 200:
            return None
        uid = self.r.get(self.keys.token(token_digest(token)))
        return self.get(uid) if uid else None

    def revoke_token(self, token: str) -> None:
        digest = token_digest(token)
        uid = self.r.getdel(self.keys.token(digest))
        if uid:
            self.r.srem(self.keys.user_tokens(uid), digest)

    def guest_allowed(self, client: str, per_minute: int) -> bool:
        """Fixed-window rate limit of guest sign-ups per client address."""
        minute = int(now() // 60)
        key = self.keys.guest_rate(client, minute)
        pipe = self.r.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
        return int(count) <= per_minute

    def all_of_type(self, user_type: UserType) -> list[User]:
        """Every user of one type (start-up and small admin listings)."""
        out: list[User] = []
        ids = self.r.zrange(self.keys.users, 0, -1)
        for chunk in range(0, len(ids), 500):
            for user in self.get_many(ids[chunk : chunk + 500]).values():
                if user.user_type is user_type:
                    out.append(user)
        return out
