"""The widget's set-up (issue 15, item 4): the pre-chat form an admin configures (one
JSON string) and the embedding sites with their identify secrets (one hash per site and
an index set). Blocking: call from the executor (``bridge.run_io``).

A site's secret must stay readable by the server (it computes the HMAC the site sent),
so it is stored as is in Redis (and in backups); replies show it once, when the site is
made or its secret rotated (docs/security.md)."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence.redis import Store

DEFAULT_FORM: dict[str, Any] = {
    "name": {"shown": True, "required": False},
    "email": {"shown": False, "required": False},
    "phone": {"shown": False, "required": False},
    "fields": [],
}
MAX_SITES = 100


def get_form(store: Store) -> dict[str, Any]:
    raw = store.client.get(store.keys.widget_form)
    return orjson.loads(raw) if raw else DEFAULT_FORM


def put_form(store: Store, form: dict[str, Any]) -> None:
    store.client.set(store.keys.widget_form, orjson.dumps(form))


def _view(raw: dict[str, str]) -> dict[str, Any]:
    """A site as replies show it: never its secret."""
    return {"id": raw["id"], "name": raw.get("name", raw["id"]),
            "created_at": raw.get("created_at"), "rotated_at": raw.get("rotated_at") or None}


# KEYS: site, index.  ARGV: max sites, id, field/value pairs → 1 | 0 (too many sites)
CREATE_SITE_LUA = """
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""


def create_site(store: Store, name: str) -> tuple[dict[str, Any], str] | None:
    """A new site → (its view, its secret), or None past :data:`MAX_SITES`."""
    k = store.keys
    site_id = f"site_{secrets.token_hex(6)}"
    secret = secrets.token_hex(32)
    record = {"id": site_id, "name": name, "secret": secret, "created_at": iso(now()) or ""}
    flat = [x for pair in record.items() for x in pair]
    if not store.client.eval(CREATE_SITE_LUA, 2, k.widget_site(site_id), k.widget_sites,
                             MAX_SITES, site_id, *flat):
        return None
    return _view(record), secret


def rotate_secret(store: Store, site_id: str) -> tuple[dict[str, Any], str] | None:
    """A new secret for the site (the old one stops working at once), or None."""
    key = store.keys.widget_site(site_id)
    secret = secrets.token_hex(32)
    # HSET only on an existing site: a script, so a delete meanwhile cannot revive it
    done = store.client.eval(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
        "redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'rotated_at', ARGV[2]) return 1",
        1, key, secret, iso(now()) or "")
    if not done:
        return None
    return _view(store.client.hgetall(key)), secret


def site_secret(store: Store, site_id: str) -> str | None:
    return store.client.hget(store.keys.widget_site(site_id), "secret") or None


def all_sites(store: Store) -> list[dict[str, Any]]:
    k = store.keys
    ids = sorted(store.client.smembers(k.widget_sites))
    pipe = store.client.pipeline(transaction=False)
    for site_id in ids:
        pipe.hgetall(k.widget_site(site_id))
    return [_view(raw) for raw in pipe.execute() if raw]


def delete_site(store: Store, site_id: str) -> bool:
    """Remove a site: its identify calls stop; its customers stay (with their history)."""
    k = store.keys
    pipe = store.client.pipeline(transaction=True)
    pipe.srem(k.widget_sites, site_id)
    pipe.delete(k.widget_site(site_id))
    return bool(pipe.execute()[0])
