"""Which REST requests maintenance mode refuses (SPEC §7): every write (POST, PUT, DELETE,
PATCH) by anyone but an admin — guest sign-up included — except login and logout.
Reads carry on, including the two reads that take a POST body (message search and
export). ``BaseHandler`` asks :func:`refuses` and answers 503 ``maintenance``."""

from __future__ import annotations

from kefu.domain import User, UserType
from kefu.persistence.maintenance import Maintenance

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
ALWAYS_OPEN = frozenset({"/api/auth/login", "/api/auth/logout",
                         "/api/messages/search", "/api/messages/export"})
GUEST_PATH = "/api/auth/guest"


def refuses(m: Maintenance, method: str, path: str, user: User | None) -> bool:
    """True when this request must get 503 while ``m`` is on (``user`` None: anonymous)."""
    if not m.enabled or method not in WRITE_METHODS or path.rstrip("/") in ALWAYS_OPEN:
        return False
    return user is None or user.user_type is not UserType.ADMIN
