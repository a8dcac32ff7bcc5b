"""The role matrix (issue 3, point 4): every endpoint of the route table × every kind of
caller, against one real server with real objects behind every path.

Callers: ``none`` (no token), ``bad_token``, ``kehu`` (K1, the owner), ``other_kehu``
(K2), ``kefu`` (A, the owner), ``other_kefu`` (B) and ``admin``. The objects are K1's
active session with A (a few messages), K2's session with B, A's customers and workload.

Expected, per SPEC §2: 401 without a (valid) token except on the public endpoints; 403 for
a role that may not call the endpoint; 404 when a kehu or kefu names a data object
(session, message, another kehu's user record) that is not theirs, byte-for-byte the reply
for a missing one (modulo ``timestamp``); 2xx for the owner and for the admin. Where the
code answers another kefu with 403 (another kefu's workload, customers, switch, user
record or status) the 403 is checked to be the same reply as for a kefu that does not
exist, so it leaks nothing either.

Writes never spoil the shared objects: a caller expected to succeed at a destructive call
(transfer, end, assign, delete, logout, ...) acts on a throwaway object made for that one
call; the flush is never run for real here (test_system_admin / test_backup cover it).

Also: mass assignment (a kefu cannot change its role, permissions, capacity or status
through a body field) and secrets (no password, token or password hash in any reply body
or in the server's log).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
from tornado.web import RequestHandler

from kefu.http.app import routes
from tests.e2e import data_rights_matrix, upload_matrix, webhook_matrix
from tests.helpers import WS, Api, ServerProcess, uid

CALLERS = ("none", "bad_token", "kehu", "other_kehu", "kefu", "other_kefu", "admin")
OTHERS = ("other_kehu", "other_kefu")
METHODS = ("get", "post", "put", "delete", "patch")
AUTH_PATHS = ("/api/auth/login", "/api/auth/guest", "/api/auth/identify")
# replies that show a site's identify secret or a webhook's signing secret, once
# (collected like tokens, then looked for in every other reply)
SITE_SECRET = re.compile(r"/api/widget/sites(/[^/]+/secret)?|/api/webhooks(/[^/]+/secret)?")
BAD_TOKEN = "not-a-real-token-" + "0" * 24

# route patterns that are not REST endpoints, with the reason they are not in the table
NOT_REST = {r"/ws": "the WebSocket: its auth (4401 close) is tested in test_rest_auth"}

# stand-ins for objects that do not exist: naming one must look exactly like naming an
# object that is not the caller's
GHOST = {"sid": "ghost_kehu_zz:ghost_kefu_zz", "kefu": "ghost_kefu_zz",
         "kehu": "ghost_kehu_zz", "other_kehu": "ghost_kehu_zz", "me": "ghost_user_zz",
         "msg": "ghost_msg_zz", "backup": "ghost_backup_zz.json.gz",
         "actor": "session:ghost_kehu_zz:ghost_kefu_zz", "team": "ghost_team_zz",
         "left": "lm_ghost_zz", "canned": "cr_ghost_zz", "site": "site_0000000000ff"}


def pw() -> str:
    """A password no reply or log line could contain by chance."""
    return "pw-" + "".join(secrets.choice(string.ascii_letters) for _ in range(24))


# --- the recording client -------------------------------------------------------------


@dataclass
class Reply:
    method: str
    path: str
    status: int
    text: str


class RecApi(Api):
    """An Api whose every reply body lands in ``sink`` (login/guest replies without
    their own ``token`` field, which is collected in ``tokens`` instead)."""

    def __init__(self, base: str, token: str | None, sink: list[Reply],
                 tokens: set[str]) -> None:
        super().__init__(base, token)
        self.sink, self.tokens = sink, tokens

    def call(self, method: str, path: str, json_body: Any = None, **kw: Any) -> httpx.Response:
        r = super().call(method, path, json_body, **kw)
        text = r.content.decode("utf-8", "replace")
        if path in AUTH_PATHS and r.status_code == 200:
            body = r.json()
            self.tokens.add(body["data"].pop("token"))
            text = json.dumps(body, ensure_ascii=False)
        elif method == "POST" and SITE_SECRET.fullmatch(path) and r.status_code == 200:
            body = r.json()
            self.tokens.add(body["data"].pop("secret"))
            text = json.dumps(body, ensure_ascii=False)
        if not path.startswith("/api/system/backups/"):  # a gzip dump of every key, by design
            self.sink.append(Reply(method, path, r.status_code, text))
        return r


@dataclass
class Ctx:
    server: ServerProcess
    replies: list[Reply] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    passwords: dict[str, str] = field(default_factory=dict)  # user id → password
    api: dict[str, RecApi] = field(default_factory=dict)  # caller → client
    names: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # placeholder → value
    sockets: list[WS] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # site identify secrets

    def client(self, token: str | None = None) -> RecApi:
        return RecApi(self.server.base, token, self.replies, self.tokens)

    def login(self, user_id: str) -> RecApi:
        password = "admin-pass" if user_id == "admin" else self.passwords[user_id]
        api = self.client()
        r = api.call("POST", "/api/auth/login", {"user_id": user_id, "password": password})
        assert r.status_code == 200, r.text
        api.token = r.json()["data"]["token"]
        self.tokens.add(api.token)
        return api

    def create(self, user_type: str, **extra: Any) -> tuple[str, RecApi]:
        user_id, password = uid(user_type), pw()
        self.passwords[user_id] = password
        self.names[user_id] = f"name-{user_id}"
        self.api["admin"].ok("POST", "/api/users/create", {
            "id": user_id, "name": self.names[user_id], "user_type": user_type,
            "password": password, **extra})
        return user_id, self.login(user_id)

    def guest(self) -> tuple[str, RecApi]:
        api = self.client()
        r = api.call("POST", "/api/auth/guest", {"name": "访客"})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        api.token = data["token"]
        self.tokens.add(api.token)
        return data["user"]["id"], api

    def session_with_a(self) -> tuple[str, RecApi]:
        """A throwaway kehu in a fresh active session with kefu A → (session id, kehu)."""
        kehu_id, kehu = self.guest()
        data = self.api["admin"].ok("POST", f"/api/customer/{kehu_id}/assign",
                                    {"kefu_id": self.ids["kefu"]})
        assert data["status"] == "assigned", data
        return data["session_id"], kehu

    def identity(self, caller: str) -> str:
        return {"kehu": self.ids["kehu"], "other_kehu": self.ids["other_kehu"],
                "kefu": self.ids["kefu"], "other_kefu": self.ids["other_kefu"]}.get(
            caller, "admin")

    def values(self, caller: str) -> dict[str, str]:
        """Placeholder values: ``{me}`` is the kehu's own record for kehu callers (K2
        then names K1's), A's for everyone else (B then names A's)."""
        me = self.ids["kehu"] if caller in ("kehu", "other_kehu") else self.ids["kefu"]
        return {**self.ids, "me": me}


# --- the table ------------------------------------------------------------------------

Prep = Callable[[Ctx, str], tuple[RecApi | None, str | None, Any]]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # a template: {sid} {kefu} {kehu} {other_kehu} {me} {msg} {backup} {actor}
    expect: dict[str, int]
    body: Any = None  # a dict, or a function (ctx, caller) → dict
    # callers whose call is made on a throwaway object: (ctx, caller) → (api, path, body),
    # any of them None for "as usual"
    prepare: tuple[tuple[str, ...], Prep] | None = None
    ghost: tuple[str, ...] | None = None  # placeholders a "missing" object replaces
    xfail: dict[str, str] = field(default_factory=dict)  # caller → reason
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}{' ' + self.note if self.note else ''}"


def grid(none: int = 401, kehu: int = 403, other_kehu: int | None = None, kefu: int = 403,
         other_kefu: int | None = None, admin: int = 200) -> dict[str, int]:
    return {"none": none, "bad_token": none, "kehu": kehu,
            "other_kehu": kehu if other_kehu is None else other_kehu, "kefu": kefu,
            "other_kefu": kefu if other_kefu is None else other_kefu, "admin": admin}


PUBLIC = grid(none=200, kehu=200, kefu=200)
ADMIN_ONLY = grid()
STAFF = grid(kefu=200)  # admin and any kefu
ANY_USER = grid(kehu=200, kefu=200)
SESSION = grid(kehu=200, other_kehu=404, kefu=200, other_kefu=404)  # its kehu, its kefu
KEFU_SELF = grid(kefu=200, other_kefu=403)  # admin, or the kefu itself


def fresh_token(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    return ctx.login(ctx.identity(caller)), None, None


def throwaway_session(suffix: str, body: Any = None) -> Prep:
    """A new session kehu T : kefu A; the kehu caller acts as T (T owns it)."""

    def prep(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
        sid, kehu = ctx.session_with_a()
        return (kehu if caller == "kehu" else None), f"/api/sessions/{sid}{suffix}", body

    return prep


def throwaway_kehu(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    kehu_id, _ = ctx.guest()
    return None, f"/api/customer/{kehu_id}/assign", None


def throwaway_user(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    kehu_id, _ = ctx.guest()
    return None, f"/api/users/{kehu_id}", None


def throwaway_team(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    team_id = uid("team").lower()
    ctx.api["admin"].ok("POST", "/api/teams", {"id": team_id, "name": "临时"})
    return None, f"/api/teams/{team_id}", None


def throwaway_member(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    _api, path, _body = throwaway_team(ctx, caller)
    ctx.api["admin"].ok("PUT", f"{path}/members/{ctx.ids['kefu']}", {"skill": 2})
    return None, f"{path}/members/{ctx.ids['kefu']}", None


def throwaway_left(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    """A message left (no team) by a new guest: each caller answers its own."""
    _kehu_id, kehu = ctx.guest()
    left = kehu.ok("POST", "/api/messages-left", {"content": "矩阵留言"})["message"]
    return None, f"/api/messages-left/{left['id']}/reply", None


KEHU_ONLY = grid(kehu=200, admin=403)
OWN_CANNED = grid(kefu=200, other_kefu=404)
NOTES = grid(kefu=200, other_kefu=404)  # the session's agent and admins; never a kehu  # admin any; a kefu its own; B cannot see A's


def throwaway_canned(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    """A canned response the caller owns (a kefu's personal one, an admin's shared one)."""
    made = ctx.api[caller].ok("POST", "/api/canned-responses",
                              {"shortcut": uid("m"), "content": "矩阵"})["response"]
    return None, f"/api/canned-responses/{made['id']}", None


def identify_body(ctx: Ctx, caller: str) -> dict[str, Any]:
    """A good signed identify for the fixture's site (one site user per caller)."""
    user_id = f"matrix-{caller}"
    digest = hmac.new(ctx.secrets["site"].encode(), user_id.encode(), hashlib.sha256)
    return {"site": ctx.ids["site"], "user_id": user_id, "user_hash": digest.hexdigest()}


def throwaway_site(suffix: str) -> Prep:
    """A new site (the shared one keeps its secret for the identify row)."""

    def prep(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
        made = ctx.api["admin"].ok("POST", "/api/widget/sites", {"name": "临时"})["site"]
        return None, f"/api/widget/sites/{made['id']}{suffix}", None

    return prep


def new_user_body(ctx: Ctx, caller: str) -> dict[str, Any]:
    return {"id": uid("made"), "name": "made", "user_type": "kehu", "password": pw()}


def own_name(ctx: Ctx, caller: str) -> dict[str, Any]:
    me = ctx.values(caller)["me"]
    return {"name": ctx.names[me]}


def spare_message(ctx: Ctx, caller: str) -> tuple[RecApi | None, str | None, Any]:
    return None, f"/api/messages/{ctx.ids['spare_msg']}", None


def flush_body(ctx: Ctx, caller: str) -> dict[str, Any]:
    # the admin is sent a wrong confirmation (400: past auth, nothing deleted): a real
    # flush would wipe the shared fixture; test_system_admin / test_backup flush for real
    return {"confirm": "nope" if caller == "admin" else "FLUSH"}


ROWS: list[Row] = [
    # auth
    Row("POST", "/api/auth/login", PUBLIC,
        body=lambda ctx, _c: {"user_id": ctx.ids["other_kefu"],
                              "password": ctx.passwords[ctx.ids["other_kefu"]]}),
    Row("POST", "/api/auth/guest", PUBLIC, body={"name": "访客"}),
    Row("POST", "/api/auth/logout", ANY_USER | {"other_kehu": 200, "other_kefu": 200},
        prepare=(("kehu", "other_kehu", "kefu", "other_kefu", "admin"), fresh_token)),
    # 1. sessions
    Row("GET", "/api/sessions/list", ANY_USER | {"other_kehu": 200, "other_kefu": 200}),
    # naming another kefu_id is 403 for a kefu, whatever the id (no existence leak)
    Row("GET", "/api/sessions/list?kefu_id={kefu}", SESSION | {"other_kehu": 200,
                                                                 "other_kefu": 403},
        note="(kefu_id filter)"),
    Row("GET", "/api/sessions/{sid}/messages", SESSION),
    Row("POST", "/api/sessions/{sid}/transfer",
        grid(kefu=200, other_kefu=404),
        body=lambda ctx, _c: {"to_kefu_id": ctx.ids["spare_kefu"], "reason": "matrix"},
        prepare=(("kefu", "admin"), throwaway_session("/transfer"))),
    Row("POST", "/api/sessions/{sid}/end", SESSION,
        prepare=(("kehu", "kefu", "admin"), throwaway_session("/end"))),
    Row("GET", "/api/sessions/{sid}/statistics", SESSION),
    Row("GET", "/api/sessions/{sid}/routing", grid(kefu=200, other_kefu=404)),
    # teams (issue 14): agents read them, admins change them
    Row("GET", "/api/teams", STAFF),
    Row("GET", "/api/widget/teams", PUBLIC),
    Row("GET", "/api/sessions/{sid}/notes", NOTES),
    Row("POST", "/api/sessions/{sid}/notes", NOTES, body={"content": "矩阵备注"}),
    Row("GET", "/api/canned-responses", STAFF),
    Row("POST", "/api/canned-responses", STAFF, body={"shortcut": "mx", "content": "矩阵"}),
    Row("PUT", "/api/canned-responses/{canned}", OWN_CANNED, body={"content": "改"},
        prepare=(("kefu", "admin"), throwaway_canned)),
    Row("DELETE", "/api/canned-responses/{canned}", OWN_CANNED,
        prepare=(("kefu", "admin"), throwaway_canned)),
    Row("POST", "/api/messages-left", KEHU_ONLY, body={"content": "矩阵测试"}),
    Row("GET", "/api/messages-left", STAFF),
    Row("GET", "/api/messages-left/mine", KEHU_ONLY),
    Row("POST", "/api/messages-left/{left}/reply", STAFF, body={"content": "回复"},
        prepare=(("kefu", "other_kefu", "admin"), throwaway_left)),
    # uploads (issue 15): a participant of the active session uploads (an admin does not
    # chat); whoever may read the session reads (upload_matrix.py makes the real files)
    Row("POST", "/api/uploads?session_id={sid}", SESSION | {"admin": 403},
        prepare=(("kehu", "kefu"), upload_matrix.uploading)),
    Row("GET", "/api/uploads/{msg}", SESSION, prepare=(CALLERS, upload_matrix.an_upload())),
    Row("GET", "/api/uploads/{msg}/thumbnail", SESSION,
        prepare=(CALLERS, upload_matrix.an_upload("/thumbnail"))),
    # customer context (issue 15)
    Row("POST", "/api/auth/identify", PUBLIC, body=identify_body),
    Row("GET", "/api/widget/form", PUBLIC),
    Row("PUT", "/api/widget/form", ADMIN_ONLY, body={}),
    Row("POST", "/api/widget/prechat", KEHU_ONLY, body={}),
    Row("GET", "/api/widget/sites", ADMIN_ONLY),
    Row("POST", "/api/widget/sites", ADMIN_ONLY, body={"name": "新站点"}),
    Row("DELETE", "/api/widget/sites/{site}", ADMIN_ONLY,
        prepare=(("admin",), throwaway_site(""))),
    Row("POST", "/api/widget/sites/{site}/secret", ADMIN_ONLY,
        prepare=(("admin",), throwaway_site("/secret"))),
    # its customer, its agent (A serves K1), admins; B never had K1: 404 as for nobody
    Row("GET", "/api/customers/{kehu}", SESSION),
    Row("GET", "/api/customers/{kehu}/sessions", SESSION),
    Row("PUT", "/api/customers/{kehu}/attributes", grid(kefu=200, other_kefu=404),
        body={"attributes": {"plan": "matrix"}}),
    # metrics (issue 16): open unless KEFU_METRICS_TOKEN is set (test_metrics.py)
    Row("GET", "/metrics", PUBLIC),
    # webhooks (issue 16)
    Row("GET", "/api/webhooks", ADMIN_ONLY),
    Row("POST", "/api/webhooks", ADMIN_ONLY, body=webhook_matrix.BODY),
    Row("GET", webhook_matrix.PATH, ADMIN_ONLY,
        prepare=(("admin",), webhook_matrix.throwaway_hook())),
    Row("PUT", webhook_matrix.PATH, ADMIN_ONLY, body={"description": "矩阵"},
        prepare=(("admin",), webhook_matrix.throwaway_hook())),
    Row("DELETE", webhook_matrix.PATH, ADMIN_ONLY,
        prepare=(("admin",), webhook_matrix.throwaway_hook())),
    Row("POST", webhook_matrix.PATH + "/secret", ADMIN_ONLY,
        prepare=(("admin",), webhook_matrix.throwaway_hook("/secret"))),
    Row("GET", webhook_matrix.PATH + "/deliveries", ADMIN_ONLY,
        prepare=(("admin",), webhook_matrix.throwaway_hook("/deliveries"))),
    Row("POST", webhook_matrix.PATH + "/test", ADMIN_ONLY,
        prepare=(("admin",), webhook_matrix.throwaway_hook("/test"))),
    # permissions (issue 16): no new endpoint; these rows hold with the role defaults
    # (kefu/permissions.py); a user stripped of one permission: tests/e2e/test_permissions.py
    # data rights and operator comfort (issue 16)
    Row("POST", "/api/customers/{kehu}/erase", ADMIN_ONLY,
        prepare=(("admin",), data_rights_matrix.throwaway_customer)),
    Row("GET", "/api/customers/{kehu}/export", ADMIN_ONLY),
    # tags and the agent's own search (issue 15)
    Row("GET", "/api/sessions/{sid}/tags", NOTES),
    Row("PUT", "/api/sessions/{sid}/tags", NOTES, body={"tags": ["matrix"]}),
    Row("GET", "/api/sessions/{sid}/transcript", SESSION),
    Row("GET", "/api/tags", STAFF),
    Row("GET", "/api/analytics/tags", ADMIN_ONLY),
    Row("GET", "/api/kefu/search?q=matrix", STAFF),
    Row("GET", "/api/sessions/list?tag=matrix", STAFF, note="(tag filter: never a kehu)"),
    Row("POST", "/api/teams", ADMIN_ONLY,
        body=lambda _ctx, _c: {"id": uid("team").lower(), "name": "新团队"}),
    Row("GET", "/api/teams/{team}", STAFF),
    Row("PUT", "/api/teams/{team}", ADMIN_ONLY, body={"description": "矩阵测试"}),
    Row("DELETE", "/api/teams/{team}", ADMIN_ONLY, prepare=(("admin",), throwaway_team)),
    Row("PUT", "/api/teams/{team}/members/{kefu}", ADMIN_ONLY, body={"skill": 4}),
    Row("DELETE", "/api/teams/{team}/members/{kefu}", ADMIN_ONLY,
        prepare=(("admin",), throwaway_member)),
    Row("GET", "/api/sessions/{sid}", SESSION),
    # 2. agent assignment
    Row("GET", "/api/kefu/waiting", STAFF),
    Row("GET", "/api/kefu/available", STAFF),
    Row("GET", "/api/kefu/{kefu}/customers", KEFU_SELF),
    Row("GET", "/api/kefu/{kefu}/workload", KEFU_SELF),
    Row("POST", "/api/kefu/{kefu}/switch/{kehu}", KEFU_SELF),
    # a kefu naming a customer that is not its own: the reply for a missing customer
    Row("POST", "/api/kefu/{kefu}/switch/{other_kehu}", {"kefu": 404}, ghost=("other_kehu",),
        note="(another kefu's customer)"),
    Row("POST", "/api/customer/{kehu}/assign", STAFF | {"other_kefu": 403},
        body=lambda ctx, _c: {"kefu_id": ctx.ids["kefu"]},
        prepare=(("kefu", "admin"), throwaway_kehu), ghost=()),
    # 3. users
    Row("GET", "/api/users", ADMIN_ONLY),
    Row("POST", "/api/users/create", grid(admin=201), body=new_user_body),
    Row("PUT", "/api/users/{me}/status", KEFU_SELF, body={"status": "online"}),
    # null: the role's defaults — the shared kefu A keeps its rights whatever the order
    # (an empty list would now take every permission from it: issue 16)
    Row("PUT", "/api/users/{me}/permissions", ADMIN_ONLY, body={"permissions": None}),
    Row("GET", "/api/users/{me}", grid(kehu=200, other_kehu=404, kefu=200, other_kefu=403)),
    Row("PUT", "/api/users/{me}", grid(kehu=200, other_kehu=404, kefu=200, other_kefu=403),
        body=own_name),
    Row("DELETE", "/api/users/{me}", ADMIN_ONLY, prepare=(("admin",), throwaway_user)),
    # 4. messages
    Row("GET", "/api/messages", ADMIN_ONLY),
    Row("POST", "/api/messages/search", ADMIN_ONLY, body={"keyword": "matrix"}),
    Row("POST", "/api/messages/export", ADMIN_ONLY, body={"format": "json"}),
    Row("GET", "/api/messages/{msg}", SESSION),
    Row("DELETE", "/api/messages/{msg}", ADMIN_ONLY, prepare=(("admin",), spare_message)),
    # 5. analytics
    Row("GET", "/api/analytics/overview", ADMIN_ONLY),
    Row("GET", "/api/analytics/messages", ADMIN_ONLY),
    Row("GET", "/api/analytics/users", ADMIN_ONLY),
    Row("GET", "/api/analytics/performance", ADMIN_ONLY),
    # 6. system
    Row("GET", "/api/system/health", PUBLIC),
    Row("GET", "/api/system/actors", ADMIN_ONLY),
    Row("GET", "/api/system/logs", ADMIN_ONLY),
    Row("POST", "/api/system/backup", ADMIN_ONLY),
    Row("GET", "/api/system/backups", ADMIN_ONLY),
    Row("GET", "/api/system/backups/{backup}", ADMIN_ONLY),
    Row("GET", "/api/system/maintenance", ADMIN_ONLY),
    Row("PUT", "/api/system/maintenance", ADMIN_ONLY, body={"enabled": False}),
    # (single-process mode: the admin gets 404 not_clustered; tests/cluster for the view)
    Row("GET", "/api/system/cluster", ADMIN_ONLY | {"admin": 404}),
    # 7. redis
    Row("GET", "/api/redis/status", ADMIN_ONLY),
    Row("POST", "/api/redis/flush", ADMIN_ONLY | {"admin": 400}, body=flush_body),
    Row("GET", "/api/redis/keys", ADMIN_ONLY),
    # security: the audit log (docs/security.md)
    Row("GET", "/api/admin/audit", ADMIN_ONLY),
    # docs (public)
    Row("GET", "/api/openapi.json", PUBLIC),
    Row("GET", "/api/docs", PUBLIC),
    Row("GET", "/api/docs/static/docs-init.js", PUBLIC),
    Row("GET", "/api/docs/static/index.css", PUBLIC),
    # the web pages (docs/ui.md): static files, public; they sign in through the API
    Row("GET", "/console", PUBLIC),
    Row("GET", "/console/admin", PUBLIC),
    Row("GET", "/chat", PUBLIC),
    Row("GET", "/chat/embed.js", PUBLIC),
    Row("GET", "/static/js/dom.js", PUBLIC),
    # last: they restart a (throwaway) session actor
    Row("POST", "/api/system/actors/{actor}/restart", ADMIN_ONLY),
    Row("POST", "/api/system/actors/{actor}/crash", ADMIN_ONLY),
]

SAMPLE = {"sid": "k:f", "kefu": "f", "kehu": "k", "other_kehu": "k2", "me": "u", "msg": "m",
          "backup": "b.json.gz", "actor": "session:k:f", "team": "t", "left": "l",
          "canned": "c", "site": "s"}


def route_table() -> list[tuple[str, type]]:
    state = SimpleNamespace(settings=SimpleNamespace(fault_injection=True))
    return [(pattern, handler) for pattern, handler, _ in routes(state)]  # type: ignore[arg-type]


def route_of(row: Row) -> str:
    """The route pattern Tornado would pick for the row's path (first match wins)."""
    path = row.path.format(**SAMPLE).split("?")[0]
    for pattern, _ in route_table():
        if re.fullmatch(pattern, path):
            return pattern
    raise AssertionError(f"no route matches {row.name}")


def handler_methods(handler: type) -> set[str]:
    return {m.upper() for m in METHODS
            if getattr(handler, m) is not getattr(RequestHandler, m)}


def cases() -> Iterator[Any]:
    for row in ROWS:
        for caller in CALLERS:
            if caller not in row.expect:
                continue
            marks = []
            if caller in row.xfail:
                marks.append(pytest.mark.xfail(strict=True, reason=row.xfail[caller]))
            yield pytest.param(row, caller, id=f"{row.name} [{caller}]", marks=marks)


# --- fixture: one server, real objects -------------------------------------------------


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    srv = ServerProcess(Path(tmp_path_factory.mktemp("matrix")), KEFU_FAULT_INJECTION="1",
                        KEFU_AGENT_GRACE_SECONDS="600")
    srv.start()
    c = Ctx(srv)
    try:
        c.passwords["admin"] = "admin-pass"
        c.api["admin"] = c.login("admin")
        c.api["none"] = c.client()
        c.api["bad_token"] = c.client(BAD_TOKEN)
        a, c.api["kefu"] = c.create("kefu", max_sessions=20)
        b, c.api["other_kefu"] = c.create("kefu")
        k1, c.api["kehu"] = c.create("kehu")
        k2, c.api["other_kehu"] = c.create("kehu")
        c.ids.update(kefu=a, other_kefu=b, kehu=k1, other_kehu=k2)
        # A online over WS; K1 asks for service and gets A (the only agent connected)
        ws_a = WS(srv.ws_url, c.api["kefu"].token)
        c.sockets.append(ws_a)
        ws_a.expect("hello")
        ws_k1 = WS(srv.ws_url, c.api["kehu"].token)
        c.sockets.append(ws_k1)
        ws_k1.expect("hello")
        ws_k1.send(type="request_service")
        sid = ws_k1.expect("assigned")["session"]["session_id"]
        assert sid == f"{k1}:{a}"
        ws_a.expect("assigned")
        acked = []
        for i in range(2):
            ws_k1.send(type="message", client_msg_id=f"k{i}", content=f"matrix kehu {i}",
                       content_type="Text")
            acked.append(ws_k1.expect("ack")["message"]["id"])
            ws_a.send(type="message", client_msg_id=f"a{i}", content=f"matrix kefu {i}",
                      content_type="Text", session_id=sid)
            acked.append(ws_a.expect("ack")["message"]["id"])
        # K2 with B (B offline: an admin assignment)
        data = c.api["admin"].ok("POST", f"/api/customer/{k2}/assign", {"kefu_id": b})
        assert data["session_id"] == f"{k2}:{b}"
        # a spare kefu, online, the target of transfers and owner of the drill's session
        spare, spare_api = c.create("kefu", max_sessions=20)
        ws_s = WS(srv.ws_url, spare_api.token)
        c.sockets.append(ws_s)
        ws_s.expect("hello")
        z, _ = c.guest()
        zsid = c.api["admin"].ok("POST", f"/api/customer/{z}/assign",
                                 {"kefu_id": spare})["session_id"]
        actors = {x["actor_id"] for x in c.api["admin"].ok(
            "GET", "/api/system/actors", params={"kind": "session"})["actors"]}
        assert f"session:{zsid}" in actors, actors
        c.api["admin"].ok("POST", "/api/teams", {"id": "matrix", "name": "矩阵"})
        left = c.api["kehu"].ok("POST", "/api/messages-left", {"content": "矩阵"})["message"]
        canned = c.api["kefu"].ok("POST", "/api/canned-responses",
                                  {"shortcut": "own", "content": "A 的"})["response"]
        backup = c.api["admin"].ok("POST", "/api/system/backup")["name"]
        site = c.api["admin"].ok("POST", "/api/widget/sites", {"name": "矩阵站点"})
        c.secrets["site"] = site["secret"]
        c.ids.update(sid=sid, other_sid=f"{k2}:{b}", msg=acked[0], spare_msg=acked[1],
                     spare_kefu=spare, backup=backup, actor=f"session:{zsid}",
                     team="matrix", left=left["id"], canned=canned["id"],
                     site=site["site"]["id"])
        yield c
    finally:
        for ws in c.sockets:
            ws.close()
        srv.stop()


# --- the table is complete -------------------------------------------------------------


def test_table_covers_every_route_and_method() -> None:
    """A new endpoint (or a new method on one) fails here until it has a row."""
    table = route_table()
    covered: dict[str, set[str]] = {}
    for row in ROWS:
        covered.setdefault(route_of(row), set()).add(row.method)
    missing = []
    for pattern, handler in table:
        if pattern in NOT_REST:
            continue
        for method in handler_methods(handler) - covered.get(pattern, set()):
            missing.append(f"{method} {pattern}")
    assert missing == [], f"endpoints without a row in ROWS: {missing}"
    assert set(NOT_REST) <= {p for p, _ in table}, "stale NOT_REST entry"


# --- the matrix ------------------------------------------------------------------------


def without_time(text: str) -> Any:
    body = json.loads(text)
    body.pop("timestamp", None)
    return body


def request(ctx: Ctx, row: Row, caller: str, ghost: bool = False) -> httpx.Response:
    api: RecApi | None = ctx.api[caller]
    values = ctx.values(caller)
    if ghost:
        names = row.ghost if row.ghost is not None else tuple(GHOST)
        values |= {k: GHOST[k] for k in names}
    path = row.path.format(**values)
    body = row.body(ctx, caller) if callable(row.body) else row.body
    if row.prepare is not None and caller in row.prepare[0] and not ghost:
        p_api, p_path, p_body = row.prepare[1](ctx, caller)
        api, path = p_api or api, p_path or path
        body = p_body if p_body is not None else body
    assert api is not None
    return api.call(row.method, path, body)


@pytest.mark.parametrize("row, caller", list(cases()))
def test_matrix(ctx: Ctx, row: Row, caller: str) -> None:
    expected = row.expect[caller]
    r = request(ctx, row, caller)
    assert r.status_code == expected, f"{row.name} as {caller}: {r.status_code} {r.text[:300]}"
    if expected >= 400:
        body = r.json()
        assert body["success"] is False and body["error_code"] == expected, body
    # naming someone else's object must look exactly like naming a missing one
    if expected in (403, 404) and (caller in OTHERS or expected == 404):
        ghost = request(ctx, row, caller, ghost=True)
        assert ghost.status_code == expected, ghost.text
        assert without_time(r.text) == without_time(ghost.text)


def test_lists_show_only_own_sessions(ctx: Ctx) -> None:
    """A 200 must not leak: each caller's session list holds its own sessions only."""
    sid, other_sid = ctx.ids["sid"], ctx.ids["other_sid"]
    for caller, mine, theirs in (("kehu", sid, other_sid), ("other_kehu", other_sid, sid),
                                 ("kefu", sid, other_sid), ("other_kefu", other_sid, sid)):
        listed = ctx.api[caller].ok("GET", "/api/sessions/list", params={"limit": 200})
        ids = {s["session_id"] for s in listed["sessions"]}
        assert mine in ids and theirs not in ids, (caller, ids)
        me = ctx.identity(caller)
        assert all(me in (s["kehu_id"], s["kefu_id"]) for s in listed["sessions"]), caller
    everything = ctx.api["admin"].ok("GET", "/api/sessions/list", params={"limit": 200})
    assert {sid, other_sid} <= {s["session_id"] for s in everything["sessions"]}
    # a kehu's kefu_id filter narrows its own sessions, never widens them
    k1 = ctx.api["kehu"].ok("GET", "/api/sessions/list",
                            params={"kefu_id": ctx.ids["other_kefu"]})
    assert k1["sessions"] == []


# --- mass assignment -------------------------------------------------------------------

FORBIDDEN_FIELDS = {
    "user_type": "admin", "permissions": ["*"], "max_sessions": 100, "status": "busy",
    "id": "admin", "user_id": "admin", "password_hash": "00", "pw_hash": "00",
    "pw_salt": "00", "created_at": "2000-01-01T00:00:00Z", "role": "admin",
    "is_admin": True, "connections": 9,
}


def test_kefu_cannot_mass_assign_role_permissions_capacity(ctx: Ctx) -> None:
    a, api, admin = ctx.ids["kefu"], ctx.api["kefu"], ctx.api["admin"]

    def record() -> tuple[Any, ...]:
        u = admin.ok("GET", f"/api/users/{a}")["user"]
        w = admin.ok("GET", f"/api/kefu/{a}/workload")["workload"]
        return (u["id"], u["name"], u["user_type"], u["permissions"], u["max_sessions"],
                u["created_at"], w["max_sessions"], w["set_status"])

    before = record()
    assert before[2:5] == ("kefu", ["transfer", "end", "take", "notes"], 20)  # defaults
    for name, value in FORBIDDEN_FIELDS.items():
        # alone, and smuggled next to an allowed field: the whole request is refused
        for body in ({name: value}, {"name": "renamed", name: value}):
            r = api.call("PUT", f"/api/users/{a}", body)
            assert r.status_code in (400, 403), (body, r.status_code, r.text)
            assert r.json()["success"] is False
        # the status endpoint takes the status only
        if name != "status":
            r = api.call("PUT", f"/api/users/{a}/status", {"status": "online", name: value})
            assert r.status_code in (400, 403), (name, r.text)
    assert record() == before
    # permissions: admin only, even one's own
    r = api.call("PUT", f"/api/users/{a}/permissions", {"permissions": ["*"]})
    assert r.status_code == 403, r.text
    # the status changes through /status, and only there
    assert api.ok("PUT", f"/api/users/{a}/status", {"status": "away"})["status"] == "away"
    assert admin.ok("GET", f"/api/kefu/{a}/workload")["workload"]["set_status"] == "away"
    api.ok("PUT", f"/api/users/{a}/status", {"status": "online"})
    assert record() == before
    # and a login cannot be used to smuggle either
    r = ctx.client().call("POST", "/api/auth/login", {
        "user_id": a, "password": ctx.passwords[a], "user_type": "admin"})
    assert r.status_code == 400, r.text


def test_kehu_cannot_mass_assign(ctx: Ctx) -> None:
    k1, api = ctx.ids["kehu"], ctx.api["kehu"]
    before = ctx.api["admin"].ok("GET", f"/api/users/{k1}")["user"]
    for name, value in FORBIDDEN_FIELDS.items():
        r = api.call("PUT", f"/api/users/{k1}", {"name": "renamed", name: value})
        assert r.status_code in (400, 403), (name, r.text)
    assert ctx.api["admin"].ok("GET", f"/api/users/{k1}")["user"] == before


# --- secrets ---------------------------------------------------------------------------

SECRET_KEYS = re.compile(r"pass|salt|hash|pw_|secret", re.I)


def secret_keys(obj: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if SECRET_KEYS.search(str(k)):
                found.append(f"{path}.{k}")
            found += secret_keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += secret_keys(v, f"{path}[{i}]")
    return found


def stored_hashes(ctx: Ctx) -> set[str]:
    """Every pw_hash / pw_salt value the embedded Redis holds for our users."""
    found = re.search(r"embedded redis-server \d+ on (\S+)", ctx.server.log.read_text())
    assert found, "embedded Redis socket not in the server log"
    client = redis.Redis(unix_socket_path=found.group(1), decode_responses=True)
    try:
        out = set()
        for user_id in ctx.passwords:
            fields = client.hgetall(f"kefu:user:{user_id}")
            assert fields, user_id
            out |= {v for k, v in fields.items() if k in ("pw_hash", "pw_salt")}
        return out
    finally:
        client.close()


def leaks(texts: list[tuple[str, str]], needles: dict[str, str]) -> list[str]:
    return [f"{what} in {where}" for where, text in texts
            for needle, what in needles.items() if needle in text]


def needles_of(ctx: Ctx) -> dict[str, str]:
    """Every secret we know → what it is: tokens (live, revoked, bad), passwords, and the
    pw_hash / pw_salt values Redis stores."""
    hashes = stored_hashes(ctx)
    assert len(hashes) == 2 * len(ctx.passwords)
    needles = {t: "a token" for t in ctx.tokens} | {BAD_TOKEN: "the bad token"}
    needles |= {p: f"{u}'s password" for u, p in ctx.passwords.items()}
    return needles | {h: "a stored pw_hash/pw_salt" for h in hashes}


# scanned on their own below (a known leak), so the general scan stays meaningful
KEYS_PATH = "/api/redis/keys"


def test_no_secret_in_any_reply(ctx: Ctx) -> None:
    """Every reply body of this module (the matrix, the mass-assignment tests, the
    fixture's logins and guests without their own ``token`` field) and every WS frame."""
    admin = ctx.api["admin"]
    # every read of the matrix, as every caller, whatever ran before (the writes' replies
    # are in ctx.replies too when the matrix ran first)
    reads = [(row, caller) for row in ROWS if row.method == "GET" for caller in CALLERS
             if caller in row.expect]
    for row, caller in reads:
        request(ctx, row, caller)
    # more replies that show users: every user's detail, the list, logins, a guest
    for user_id in list(ctx.passwords):
        admin.ok("GET", f"/api/users/{user_id}")
    admin.ok("GET", "/api/users", params={"limit": 200})
    ctx.login(ctx.ids["kefu"])
    ctx.guest()
    admin.ok("GET", "/api/system/logs", params={"limit": 500})
    assert len(ctx.replies) > len(reads) + len(ctx.passwords)
    texts = [(f"{r.method} {r.path} → {r.status}", r.text) for r in ctx.replies
             if not r.path.startswith(KEYS_PATH)]
    texts += [(f"WS frame to {i}", json.dumps(f, ensure_ascii=False))
              for i, ws in enumerate(ctx.sockets) for f in ws.seen]
    found = leaks(texts, needles_of(ctx))
    assert found == [], "\n".join(sorted(set(found)))
    # no field named like password material (the OpenAPI document names request fields;
    # a 400's details name the refused field the test itself sent, e.g. pw_hash)
    keyed = [f"{r.method} {r.path}: {k}" for r in ctx.replies
             if r.text.startswith("{") and r.path != "/api/openapi.json"
             for k in secret_keys(json.loads(r.text)) if not k.startswith(".details.")]
    assert keyed == [], "\n".join(sorted(set(keyed)))


def test_redis_keys_reply_has_no_token(ctx: Ctx) -> None:
    r = ctx.api["admin"].call("GET", KEYS_PATH, params={"pattern": "token:*", "limit": 1000})
    assert r.status_code == 200, r.text
    replies = [(f"GET {KEYS_PATH}", r.text)] + [
        (f"{x.method} {x.path}", x.text) for x in ctx.replies if x.path.startswith(KEYS_PATH)]
    assert leaks(replies, {t: "a token" for t in ctx.tokens}) == []


def test_no_secret_in_the_server_log(ctx: Ctx) -> None:
    """After everything above (logins, refusals, revoked tokens, WS sessions)."""
    log = ctx.server.log.read_text(errors="replace")
    assert "embedded redis-server" in log  # it is the right file
    found = leaks([("server.log", log)], needles_of(ctx))
    assert found == [], "\n".join(sorted(set(found)))


def test_failed_ws_upgrade_does_not_log_the_token(ctx: Ctx) -> None:
    # a guest of its own, kept out of ctx.tokens so the other log test is order-independent
    token = httpx.post(f"{ctx.server.base}/api/auth/guest", json={}).json()["data"]["token"]
    r = httpx.get(f"{ctx.server.base}/ws", params={"token": token}, timeout=10)
    assert r.status_code == 400  # not an upgrade
    assert Api(ctx.server.base, token).call("GET", "/api/sessions/list").status_code == 200
    # the server writes its access line before it answers
    assert token not in ctx.server.log.read_text(errors="replace")
