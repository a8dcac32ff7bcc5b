"""Users, passwords and tokens in Redis. Blocking calls: use them off the IOLoop
(``bridge.run_io``) or from an actor thread.

Passwords: ``hashlib.scrypt`` with a per-user salt, stored as ``scrypt$N$r$p$hex`` so each
hash carries its own cost and older (cheaper) hashes still verify; OWASP's N=2**17, r=8,
p=1 by default (``KEFU_SCRYPT_N`` lowers N for the test suite). At most two hashes run at
once (each takes 128 MiB at N=2**17). Tokens: only their SHA-256 is stored; they are
revoked by logout, by a password change (all but the caller's) and by user deletion.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import uuid

import orjson
from redis.exceptions import WatchError

from kefu.domain import AgentStatus, User, UserType, iso, now
from kefu.permissions import effective
from kefu.persistence.redis import Store
from kefu.persistence.user_permissions import MARK, stored_list

USER_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
DEFAULT_SCRYPT_N = 2**17  # OWASP password storage cheat sheet: N=2^17, r=8, p=1
SCRYPT_R, SCRYPT_P, DKLEN = 8, 1, 32
LEGACY_N = 2**14  # hashes written before the cost was stored beside them
_HASH_SLOTS = threading.BoundedSemaphore(2)  # bounds memory: 128 MiB per hash at 2**17
_DUMMY_SALT = secrets.token_bytes(16)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> str:
    maxmem = 128 * r * (n + p + 2) + (1 << 20)  # what OpenSSL needs, plus slack
    with _HASH_SLOTS:
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=DKLEN,
                              maxmem=maxmem).hex()


def hash_password(password: str, salt: bytes | None = None,
                  n: int = DEFAULT_SCRYPT_N) -> tuple[str, str]:
    """scrypt with a per-user salt → (salt hex, ``scrypt$N$r$p$<hash hex>``)."""
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return salt.hex(), f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${digest}"


def hash_cost(stored: str) -> tuple[int, int, int]:
    """(N, r, p) a stored hash was made with (bare hex: the legacy 2**14, 8, 1)."""
    parts = stored.split("$")
    if len(parts) == 5 and parts[0] == "scrypt":
        return int(parts[1]), int(parts[2]), int(parts[3])
    return LEGACY_N, 8, 1


def check_password(password: str, salt_hex: str, stored: str) -> bool:
    """Hash ``password`` at the stored hash's own cost; compare in constant time."""
    n, r, p = hash_cost(stored)
    digest = _scrypt(password, bytes.fromhex(salt_hex), n, r, p)
    return hmac.compare_digest(digest.encode(), stored.rsplit("$", 1)[-1].encode())


def token_digest(token: str) -> str:
    """What Redis stores for a bearer token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


# KEYS: user, users index, guests index ('' for none).  ARGV: id, created, field/value
# pairs → 1 created | 0 the id is taken
CREATE_USER_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if KEYS[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1]) end
return 1
"""


def _user_from_hash(raw: dict[str, str]) -> User:
    return User(
        id=raw["id"],
        name=raw.get("name", raw["id"]),
        user_type=UserType(raw["user_type"]),
        status=AgentStatus(raw.get("status", "offline")),
        max_sessions=int(raw.get("max_sessions", 5)),
        # the effective set (kefu/permissions.py): the stored list or the role's defaults
        permissions=effective(raw["id"], UserType(raw["user_type"]), stored_list(raw)),
        created_at=raw.get("created_at") or iso(now()) or "",
    )


class UserStore:
    """Reads and writes users and tokens."""

    def __init__(self, store: Store, token_ttl: int, scrypt_n: int = DEFAULT_SCRYPT_N) -> None:
        self.store = store
        self.keys = store.keys
        self.r = store.client
        self.token_ttl = token_ttl
        self.scrypt_n = scrypt_n

    def password_fields(self, password: str) -> dict[str, str]:
        """The user-hash fields for a new password, hashed at this store's cost."""
        salt, digest = hash_password(password, n=self.scrypt_n)
        return {"pw_salt": salt, "pw_hash": digest}

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
        guest: bool = False,
    ) -> User | None:
        """Create a user; None when the id is taken. A ``guest`` (an anonymous kehu)
        is indexed for expiry (``persistence/guests.py``)."""
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
            fields.update(self.password_fields(password))
        if permissions is not None:  # None: the role's defaults (kefu/permissions.py)
            fields[MARK] = "1"
        key = self.keys.user(uid)
        # one script: a reader never sees a half-written user (two cluster nodes creating
        # the bootstrap admin at once: the loser read a hash with only its id)
        flat = [str(x) for pair in fields.items() for x in pair]
        if not self.r.eval(CREATE_USER_LUA, 3, key, self.keys.users,
                           self.keys.guests_seen if guest else "", uid, created, *flat):
            return None
        return _user_from_hash({k: str(v) for k, v in fields.items()})

    def verify_password(self, user_id: str, password: str) -> User | None:
        """The user if the password is right. An unknown user (or one without a
        password) costs one hash against a dummy, like a wrong password: no timing
        oracle. A right password stored at an older cost is re-hashed at today's."""
        raw = self.r.hgetall(self.keys.user(user_id)) if USER_ID_RE.match(user_id) else {}
        if not raw or "pw_hash" not in raw:
            _scrypt(password, _DUMMY_SALT, self.scrypt_n, SCRYPT_R, SCRYPT_P)
            return None
        if not check_password(password, raw["pw_salt"], raw["pw_hash"]):
            return None
        if hash_cost(raw["pw_hash"]) != (self.scrypt_n, SCRYPT_R, SCRYPT_P):
            self._rehash(user_id, password, raw["pw_hash"])
        return _user_from_hash(raw)

    def _rehash(self, user_id: str, password: str, old: str) -> None:
        """Replace ``old`` by a hash at today's cost, unless it changed meanwhile."""
        key = self.keys.user(user_id)
        fields = self.password_fields(password)
        with self.r.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                if pipe.hget(key, "pw_hash") != old:
                    return
                pipe.multi()
                pipe.hset(key, mapping=fields)
                pipe.execute()
            except WatchError:
                return  # changed meanwhile: the newer hash wins

    def set_password(self, user_id: str, password: str, keep_token: str | None = None
                     ) -> list[str] | None:
        """Set a new password and revoke every token of the user but ``keep_token`` (the
        caller's own, when users change their own password) → the revoked tokens'
        digests (their sockets are to be closed); None when the user does not exist
        (nothing written). One WATCH transaction."""
        key, tokens_key = self.keys.user(user_id), self.keys.user_tokens(user_id)
        keep = token_digest(keep_token) if keep_token else None
        fields = self.password_fields(password)
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key, tokens_key)
                    if not pipe.exists(key):
                        pipe.reset()
                        return None
                    doomed = [d for d in pipe.smembers(tokens_key) if d != keep]
                    pipe.multi()
                    pipe.hset(key, mapping=fields)
                    for digest in doomed:
                        pipe.delete(self.keys.token(digest))
                    if doomed:
                        pipe.srem(tokens_key, *doomed)
                    pipe.execute()
                    return doomed
                except WatchError:
                    continue

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
        pipe.expire(self.keys.user_tokens(user_id), self.token_ttl)  # outlives its tokens
        pipe.execute()
        return token, now() + self.token_ttl

    def resolve_token(self, token: str) -> User | None:
        if not token or len(token) > 200:
            return None
        uid = self.r.get(self.keys.token(token_digest(token)))
        if not uid or not USER_ID_RE.match(uid):
            return None
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self.keys.user(uid))
        pipe.zadd(self.keys.guests_seen, {uid: now()}, xx=True)  # a guest's activity
        raw = pipe.execute()[0]
        return _user_from_hash(raw) if raw else None

    def revoke_token(self, token: str) -> None:
        digest = token_digest(token)
        uid = self.r.getdel(self.keys.token(digest))
        if uid:
            self.r.srem(self.keys.user_tokens(uid), digest)

    def all_of_type(self, user_type: UserType) -> list[User]:
        """Every user of one type (start-up and small admin listings)."""
        out: list[User] = []
        ids = self.r.zrange(self.keys.users, 0, -1)
        for chunk in range(0, len(ids), 500):
            for user in self.get_many(ids[chunk : chunk + 500]).values():
                if user.user_type is user_type:
                    out.append(user)
        return out
