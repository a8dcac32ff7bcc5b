"""The permission catalogue (issue 16): each permission's name, what it allows, which
roles hold it by default and which roles may be granted it. Pure data and functions, no
I/O: the user store computes a user's effective set with :func:`effective`, the REST
handlers check it centrally (``http/handlers/base.py``, table in
``http/endpoint_permissions.py``), the WebSocket checks its acting frames
(``http/frame_permissions.py``).

Semantics:

* A role is the ceiling, permissions narrow it (and widen a kefu by the few permissions
  ``grantable`` to a kefu, e.g. ``analytics``). A stored list outside a role's grantable
  set is refused (400), never silently widened.
* A user's effective set is its stored list when an admin set one (``PUT
  /api/users/{id}/permissions`` or ``permissions`` at creation), else its role's defaults.
  ``null`` puts a user back on its role's defaults.
* A kehu's set is fixed: its role's defaults, whatever is stored.
* The built-in ``admin`` always holds ``users`` (no lock-out).
"""

from __future__ import annotations

from dataclasses import dataclass

from kefu.domain import UserType

ADMIN, KEFU, KEHU = UserType.ADMIN, UserType.KEFU, UserType.KEHU
BOOTSTRAP_ADMIN = "admin"
NONE = "none"  # an endpoint or frame that needs no permission (public, self-service)


@dataclass(frozen=True)
class Permission:
    name: str
    allows: str
    defaults: tuple[UserType, ...]  # roles that hold it unless an admin says otherwise
    grantable: tuple[UserType, ...]  # roles an admin may give it to


CATALOGUE: tuple[Permission, ...] = (
    Permission("transfer", "transfer a session to another agent (REST)",
               (ADMIN, KEFU), (ADMIN, KEFU)),
    Permission("end", "end a session (REST)", (ADMIN, KEFU, KEHU), (ADMIN, KEFU, KEHU)),
    Permission("take", "focus or take a customer (REST switch and `switch` frame), assign "
               "a customer, answer an offer (`accept`/`decline` frames)",
               (ADMIN, KEFU), (ADMIN, KEFU)),
    Permission("notes", "read and write a session's private notes (REST and `note` frame)",
               (ADMIN, KEFU), (ADMIN, KEFU)),
    Permission("messages", "list and search every message (`/api/messages`, search)",
               (ADMIN,), (ADMIN, KEFU)),
    Permission("messages.delete", "delete a message (tombstone)", (ADMIN,), (ADMIN,)),
    Permission("export", "export messages as a file", (ADMIN,), (ADMIN, KEFU)),
    Permission("analytics", "read `/api/analytics/*`", (ADMIN,), (ADMIN, KEFU)),
    Permission("users", "list, create and delete users, edit other users, set "
               "permissions", (ADMIN,), (ADMIN,)),
    Permission("teams", "create, change and delete teams and their members",
               (ADMIN,), (ADMIN,)),
    Permission("widget", "the widget's pre-chat form and identified sites (secrets)",
               (ADMIN,), (ADMIN,)),
    Permission("system", "actors, restarts, logs, maintenance, cluster view",
               (ADMIN,), (ADMIN,)),
    Permission("backup", "make, list and download backups", (ADMIN,), (ADMIN,)),
    Permission("redis", "Redis status, key listing and flush", (ADMIN,), (ADMIN,)),
    Permission("audit", "read the audit trail", (ADMIN,), (ADMIN,)),
    Permission("webhooks", "add, change, delete and test outbound webhooks, read their "
               "deliveries", (ADMIN,), (ADMIN,)),
    Permission("customers", "data rights: erase a customer, export everything about one",
               (ADMIN,), (ADMIN,)),
)
BY_NAME: dict[str, Permission] = {p.name: p for p in CATALOGUE}
MAX_STORED = len(CATALOGUE)


def defaults(user_type: UserType) -> list[str]:
    """The role's default set, in catalogue order."""
    return [p.name for p in CATALOGUE if user_type in p.defaults]


def effective(user_id: str, user_type: UserType, stored: list[str] | None) -> list[str]:
    """A user's effective set: ``stored`` (None: never set → the role's defaults), kept
    within what the role may hold, in catalogue order; a kehu's is fixed; the built-in
    admin always keeps ``users``."""
    if stored is None or user_type is KEHU:
        names = set(defaults(user_type))
    else:
        names = {n for n in stored if n in BY_NAME and user_type in BY_NAME[n].grantable}
    if user_id == BOOTSTRAP_ADMIN and user_type is ADMIN:
        names.add("users")
    return [p.name for p in CATALOGUE if p.name in names]


def problems(user_id: str, user_type: UserType, names: list[str]) -> dict[str, str]:
    """Why ``names`` may not be stored for this user (field → reason); empty when fine."""
    out: dict[str, str] = {}
    if user_type is KEHU:
        return {"permissions": "a customer's permissions are fixed"}
    for i, name in enumerate(names):
        if name not in BY_NAME:
            out[f"permissions.{i}"] = (f"unknown permission {name!r}; known: "
                                       + ", ".join(BY_NAME))
        elif user_type not in BY_NAME[name].grantable:
            out[f"permissions.{i}"] = f"{name!r} cannot be given to a {user_type.value}"
    if user_id == BOOTSTRAP_ADMIN and user_type is ADMIN and "users" not in names:
        out["permissions"] = "the built-in admin always keeps 'users'"
    return out
