"""The webhook events and how they enter the outbox stream (the transactional outbox).

Each event is written by the Lua script that makes the change it reports (an ``XADD``
in the same atomic step), so a crash between the change and its event cannot lose the
event. A script writes it only when an active hook subscribed to that type (the set
``webhooks:subscribed``, kept by the hooks' CRUD), so the message path pays one
``SISMEMBER`` when nobody listens.

Key names built inside the scripts follow ``kefu/persistence/keys.py`` (prefix plus
``webhooks:subscribed`` / ``webhooks:outbox``), as the message indexes do.

The stream is capped near :data:`OUTBOX_MAXLEN` entries (``XADD MAXLEN ~``); the worker
deletes what it delivered, so the stream holds only what is not delivered yet. If the
deliveries fall that far behind (every node down for long, under a flood of messages),
the oldest undelivered events are dropped and the worker logs how many
(docs/webhooks.md).
"""

from __future__ import annotations

from typing import Final

# type → what happened (docs/webhooks.md has each payload)
EVENTS: Final[dict[str, str]] = {
    "session.opened": "a customer asked for an agent (queued, or served at once)",
    "session.assigned": "a session was opened with an agent (also after a transfer)",
    "session.transferred": "a session was handed to another agent or a team",
    "session.ended": "a session ended",
    "session.rated": "a customer rated an ended session",
    "message.created": "a chat message was stored in a session",
    "message_left.created": "a customer left a message (nobody could chat)",
    "message_left.replied": "an agent replied to a message left (e.g. to email it)",
    "queue.abandoned": "a waiting customer stopped waiting (it left a message instead, or "
                       "its page was gone for KEFU_QUEUE_ABANDON_SECONDS)",
}

OUTBOX_MAXLEN: Final = 100_000

# hook_event(prefix, type, data): XADD the event when a hook wants that type.
HOOK_LUA = f"""
local function hook_event(prefix, etype, data)
  if redis.call('SISMEMBER', prefix .. 'webhooks:subscribed', etype) == 0 then return end
  redis.call('XADD', prefix .. 'webhooks:outbox', 'MAXLEN', '~', '{OUTBOX_MAXLEN}', '*',
             'type', etype, 'data', cjson.encode(data))
end
"""

# One event from Python, inside a MULTI with the change it reports.
# KEYS: subscribed, outbox.  ARGV: type, data JSON → 1 written, 0 nobody listens
EMIT_LUA = f"""
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '{OUTBOX_MAXLEN}', '*', 'type', ARGV[1], 'data', ARGV[2])
return 1
"""
