"""The Lua scripts that make each state change atomic with its snapshot and indexes.

Each script is one atomic step in Redis; its KEYS and ARGV are listed above it. Key names
built *inside* a script (the per-message indexes: by time, by sender and recipient, by
content type, hour/day counters) follow ``kefu/persistence/keys.py`` — prefix plus the
same suffixes — because they depend on the message itself.

The session scripts (``SESSION_LUA``: assign, close, transfer) hold the dispatcher's
invariants — one active session per kehu, no kefu over its ``max_sessions`` unless
forced — and refuse, changing nothing, when they would break; they bump the session's
``generation`` (its change counter) and return it, so the session actor told of the
change can tell whether what it read already includes it.
"""

from __future__ import annotations

from kefu.persistence.fencing import FENCE_LUA
from kefu.persistence.webhook_events import HOOK_LUA  # webhooks (issue 16): hook_event()

# Indexes and counters kept as each message is stored (same script, same atomicity):
# by time, by sender, by recipient, by content type, and hour/day statistics buckets.
# Key names follow kefu/persistence/keys.py (prefix + the same suffixes).
INDEX_LUA = """
local function index_message(prefix, member, m, score, side, rt)
  redis.call('ZADD', prefix .. 'msgs:time', score, member)
  redis.call('ZADD', prefix .. 'user:' .. m['from'] .. ':sent', score, member)
  if type(m['to']) == 'string' then
    redis.call('ZADD', prefix .. 'user:' .. m['to'] .. ':recv', score, member)
  end
  redis.call('ZADD', prefix .. 'msgs:type:' .. m['content_type'], score, member)
  local ts = m['timestamp']
  local day = ts:sub(1, 4) .. ts:sub(6, 7) .. ts:sub(9, 10)
  for _, k in ipairs({prefix .. 'stats:d:' .. day, prefix .. 'stats:h:' .. day .. ts:sub(12, 13)}) do
    redis.call('HINCRBY', k, 'messages', 1)
    redis.call('HINCRBY', k, side .. '_messages', 1)
    redis.call('HINCRBY', k, 'type:' .. m['content_type'], 1)
    if rt ~= '' then
      redis.call('HINCRBYFLOAT', k, 'resp_total', rt)
      redis.call('HINCRBY', k, 'resp_count', 1)
    end
  end
end
"""

# Append one chat message to a session, exactly once, with no gap in ``seq``; a kefu's
# answer also adds to its response figures (here, so a redelivered append cannot count
# twice: it meets its own dedup record or a seq conflict first).
# KEYS: meta, stream, dedup, msgidx, agent_figures, lease (fencing.py)
# ARGV: seq, msg_json, msg_id, side, now, preview, dedup_ttl, sid, has_dedup,
#       response_seconds ('' if this message answers nothing), fence token, then pairs of
#       extra meta fields (the session's statistics snapshot).
APPEND_LUA = FENCE_LUA + INDEX_LUA + HOOK_LUA + """
if fenced(KEYS[6], ARGV[11]) then return {'fenced', ''} end
if ARGV[9] == '1' then
  local d = redis.call('GET', KEYS[3])
  if d then return {'dup', d} end
end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {'closed', ''} end
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if cur + 1 ~= tonumber(ARGV[1]) then return {'conflict', tostring(cur)} end
redis.call('XADD', KEYS[2], '0-' .. ARGV[1], 'm', ARGV[2])
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'updated_at', ARGV[5], 'last_message', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'message_count', 1)
redis.call('HINCRBY', KEYS[1], ARGV[4] .. '_messages', 1)
for i = 12, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[9] == '1' then redis.call('SET', KEYS[3], ARGV[2], 'EX', tonumber(ARGV[7])) end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[8] .. '|' .. ARGV[1])
local prefix = string.sub(KEYS[4], 1, -7)
local stored = cjson.decode(ARGV[2])
index_message(prefix, ARGV[8] .. '|' .. ARGV[1], stored,
              math.floor(tonumber(ARGV[5]) * 1000), ARGV[4], ARGV[10])
hook_event(prefix, 'message.created', {message = stored})
if ARGV[10] ~= '' then
  local kefu = string.match(ARGV[8], ':(.*)$')
  redis.call('HINCRBYFLOAT', KEYS[5], kefu .. '|rt', ARGV[10])
  redis.call('HINCRBY', KEYS[5], kefu .. '|rc', 1)
end
return {'ok', ''}
"""

# Keep a message of a kehu that has no session yet (it is moved into the session when
# the kehu is assigned).  KEYS: waitlist, dedup, msgidx, lease.  ARGV: msg_json, msg_id,
# ttl, has_dedup, kehu_id, fence token
WAIT_APPEND_LUA = FENCE_LUA + """
if fenced(KEYS[4], ARGV[6]) then return {'fenced', ''} end
if ARGV[4] == '1' then
  local d = redis.call('GET', KEYS[2])
  if d then return {'dup', d} end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[3])) end
redis.call('HSET', KEYS[3], ARGV[2], 'wait|' .. ARGV[5])
return {'ok', ''}
"""

# Opening and closing sessions. The invariants live here, not only in the dispatcher's
# memory: a kehu has at most one active session, and a kefu holds at most its user's
# ``max_sessions`` active sessions unless an admin forced it. A script that finds them
# broken changes nothing and answers ``{'refused', reason, detail}``; the dispatcher
# then reloads its state from Redis (a second dispatcher, a paused or restarted one,
# cannot break them either). Each change bumps the session's ``generation``.
SESSION_LUA = FENCE_LUA + INDEX_LUA + HOOK_LUA + """
-- K: meta, stream, waitlist, queue, assign, sessions, kehu_sessions, kefu_sessions,
--    msgidx, events, kehu_active, kefu_active, kefu_user, offers
-- A: sid, kehu_id, kefu_id, now, transferred_from, dedup_prefix, dedup_ttl, event_json,
--    kehu_name, kefu_name, force ('1': an admin's forced assignment), routing (why this
--    agent: JSON, '' for none), offer_id (the offer this agent accepts, '' for none)
-- An accepted offer must still be there, held by this agent (else 'offer_gone'); any
-- offer of the kehu is withdrawn when it is assigned (the offers hash: kehu → offer JSON)
local function refusal(K, A)
  local current = redis.call('HGET', K[5], A[2])
  if current then return {'refused', 'already_in_session', current} end
  if A[13] ~= '' then
    local held = redis.call('HGET', K[14], A[2])
    if not held then return {'refused', 'offer_gone', ''} end
    local offer = cjson.decode(held)
    if offer['id'] ~= A[13] or offer['kefu_id'] ~= A[3] then
      return {'refused', 'offer_gone', offer['id']}
    end
  end
  if A[11] ~= '1' then
    local cap = tonumber(redis.call('HGET', K[13], 'max_sessions') or '5')
    if redis.call('SCARD', K[12]) >= cap then return {'refused', 'kefu_full', tostring(cap)} end
  end
  return nil
end

local function open_session(K, A)
  local now = A[4]
  if redis.call('HEXISTS', K[1], 'created_at') == 0 then
    redis.call('HSET', K[1], 'created_at', now, 'seq', 0, 'message_count', 0,
               'kefu_messages', 0, 'kehu_messages', 0, 'last_message', '')
  end
  redis.call('HSET', K[1], 'session_id', A[1], 'kehu_id', A[2], 'kefu_id', A[3],
             'status', 'active', 'updated_at', now, 'opened_at', now,
             'kehu_name', A[9], 'kefu_name', A[10])
  redis.call('HDEL', K[1], 'ended_at', 'awaiting_since', 'transferred_to', 'end_reason',
             'transferred_from', 'satisfaction', 'rating_comment', 'rated_at')
  if A[5] ~= '' then redis.call('HSET', K[1], 'transferred_from', A[5]) end
  if A[12] ~= '' then redis.call('HSET', K[1], 'routing', A[12])
  else redis.call('HDEL', K[1], 'routing') end
  local ev = cjson.decode(A[8])
  ev['after_seq'] = tonumber(redis.call('HGET', K[1], 'seq'))
  redis.call('RPUSH', K[10], cjson.encode(ev))
  local moved = {}
  for _, raw in ipairs(redis.call('LRANGE', K[3], 0, -1)) do
    local m = cjson.decode(raw)
    local seq = redis.call('HINCRBY', K[1], 'seq', 1)
    m['seq'] = seq
    m['session_id'] = A[1]
    m['to'] = A[3]
    local enc = cjson.encode(m)
    redis.call('XADD', K[2], '0-' .. seq, 'm', enc)
    redis.call('HINCRBY', K[1], 'message_count', 1)
    redis.call('HINCRBY', K[1], 'kehu_messages', 1)
    redis.call('HSET', K[1], 'last_message', string.sub(m['content'] or '', 1, 200))
    redis.call('HSET', K[9], m['id'], A[1] .. '|' .. seq)
    index_message(string.sub(K[9], 1, -7), A[1] .. '|' .. seq, m,
                  math.floor(tonumber(now) * 1000), 'kehu', '')
    if type(m['client_msg_id']) == 'string' then
      redis.call('SET', A[6] .. A[2] .. ':' .. m['client_msg_id'], enc, 'EX', tonumber(A[7]))
    end
    if redis.call('HEXISTS', K[1], 'awaiting_since') == 0 then
      redis.call('HSET', K[1], 'awaiting_since', now)
    end
    moved[#moved + 1] = enc
  end
  redis.call('DEL', K[3])
  local was_waiting = redis.call('HDEL', K[4], A[2])
  redis.call('HDEL', K[14], A[2])
  redis.call('HSET', K[5], A[2], A[1])
  redis.call('ZADD', K[6], 'NX', now, A[1])
  redis.call('ZADD', K[7], now, A[1])
  redis.call('ZADD', K[8], now, A[1])
  redis.call('SADD', K[11], A[1])
  redis.call('SADD', K[12], A[1])
  local hooks = string.sub(K[9], 1, -7)
  if was_waiting == 0 and A[5] == '' then  -- served at once: it never entered the queue
    hook_event(hooks, 'session.opened', {kehu_id = A[2], queued = false, session_id = A[1]})
  end
  hook_event(hooks, 'session.assigned', {session = {
    session_id = A[1], kehu_id = A[2], kefu_id = A[3], kehu_name = A[9], kefu_name = A[10],
    transferred_from = A[5], opened_at = tonumber(now)}})
  for _, enc in ipairs(moved) do
    hook_event(hooks, 'message.created', {message = cjson.decode(enc)})
  end
  table.insert(moved, 1, redis.call('HINCRBY', K[1], 'generation', 1))
  table.insert(moved, 1, 'ok')
  return moved
end

-- K: meta, assign, events, queue, kehu_active, kefu_active
-- A: status, now, kehu_id, event_json, requeue_json ('' for none), reason, transferred_to
local function close_session(K, A)
  if redis.call('HGET', K[1], 'status') ~= 'active' then
    return {'refused', 'session_not_active', redis.call('HGET', K[2], A[3]) or ''}
  end
  local sid = redis.call('HGET', K[1], 'session_id')
  redis.call('HSET', K[1], 'status', A[1], 'ended_at', A[2], 'updated_at', A[2],
             'end_reason', A[6])
  redis.call('HDEL', K[1], 'awaiting_since')
  if A[7] ~= '' then redis.call('HSET', K[1], 'transferred_to', A[7]) end
  if redis.call('HGET', K[2], A[3]) == sid then redis.call('HDEL', K[2], A[3]) end
  local ev = cjson.decode(A[4])
  ev['after_seq'] = tonumber(redis.call('HGET', K[1], 'seq') or '0')
  redis.call('RPUSH', K[3], cjson.encode(ev))
  if A[5] ~= '' then redis.call('HSET', K[4], A[3], A[5]) end
  redis.call('SREM', K[5], sid)
  redis.call('SREM', K[6], sid)
  local told = {session_id = sid, kehu_id = A[3], kefu_id = redis.call('HGET', K[1], 'kefu_id'),
                status = A[1], reason = A[6], at = tonumber(A[2]), requeued = A[5] ~= ''}
  if A[7] ~= '' then told['transferred_to'] = A[7] end
  hook_event(string.sub(K[2], 1, -7), A[7] ~= '' and 'session.transferred' or 'session.ended',
             {session = told})
  return {'ok', redis.call('HINCRBY', K[1], 'generation', 1)}
end

local function slice(t, from, to)
  local out = {}
  for i = from, to do out[#out + 1] = t[i] end
  return out
end
"""

# Every session script ends its KEYS with the dispatcher's lease and its ARGV with its
# fence token (fencing.py).

# Open (or reopen) a session, move the kehu's waiting messages into it, take the kehu off
# the queue and record the assignment. KEYS/ARGV: ``open_session`` above, then the fence.
# → {'ok', generation, the moved messages' JSON…}, {'refused', reason, detail} or
# {'fenced', ''}
ASSIGN_LUA = SESSION_LUA + """
if fenced(KEYS[#KEYS], ARGV[#ARGV]) then return {'fenced', ''} end
return refusal(KEYS, ARGV) or open_session(KEYS, ARGV)
"""

# Close a session (completed, or an agent gone) and, optionally, put its kehu back in the
# queue. KEYS/ARGV: ``close_session`` above, then the fence. → {'ok', generation}, a
# refusal, or fenced
CLOSE_LUA = SESSION_LUA + """
if fenced(KEYS[#KEYS], ARGV[#ARGV]) then return {'fenced', ''} end
return close_session(KEYS, ARGV)
"""

# A transfer: close the old session and open the new one, or neither.
# KEYS: the close's 6, then the open's 14, then the fence's.  ARGV: the close's 7, then
# the open's 13, then the fence's. → {'ok', new generation, old generation, moved…}, a
# refusal, or fenced
TRANSFER_LUA = SESSION_LUA + """
if fenced(KEYS[#KEYS], ARGV[#ARGV]) then return {'fenced', ''} end
local ck, ca = slice(KEYS, 1, 6), slice(ARGV, 1, 7)
local ok, oa = slice(KEYS, 7, 20), slice(ARGV, 8, 20)
if redis.call('HGET', ck[1], 'status') ~= 'active' then
  return {'refused', 'session_not_active', ''}
end
if oa[11] ~= '1' then
  local cap = tonumber(redis.call('HGET', ok[13], 'max_sessions') or '5')
  if redis.call('SCARD', ok[12]) >= cap then return {'refused', 'kefu_full', tostring(cap)} end
end
local closed = close_session(ck, ca)
if closed[1] ~= 'ok' then return closed end
local opened = refusal(ok, oa) or open_session(ok, oa)
if opened[1] ~= 'ok' then return opened end  -- unreachable: checked above
table.insert(opened, 3, closed[2])
return opened
"""

# A kehu rates an ended session once; the kefu's rating figures grow in the same step.
# KEYS: meta, agent_figures, lease.  ARGV: score, comment, now, fence token → {'ok'}, a
# refusal, or fenced
RATE_LUA = FENCE_LUA + HOOK_LUA + """
if fenced(KEYS[3], ARGV[4]) then return {'fenced', ''} end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'active' then return {'refused', 'session_active'} end
if redis.call('HSETNX', KEYS[1], 'satisfaction', ARGV[1]) == 0 then
  return {'refused', 'already_rated'}
end
redis.call('HSET', KEYS[1], 'rating_comment', ARGV[2], 'rated_at', ARGV[3])
local kefu = redis.call('HGET', KEYS[1], 'kefu_id')
redis.call('HINCRBYFLOAT', KEYS[2], kefu .. '|st', ARGV[1])
redis.call('HINCRBY', KEYS[2], kefu .. '|sc', 1)
hook_event(string.sub(KEYS[2], 1, -13), 'session.rated', {rating = {
  session_id = redis.call('HGET', KEYS[1], 'session_id'),
  kehu_id = redis.call('HGET', KEYS[1], 'kehu_id'), kefu_id = kefu,
  score = tonumber(ARGV[1]), comment = ARGV[2], at = tonumber(ARGV[3])}})
return {'ok'}
"""

# Put (or update) a waiting kehu's queue entry.  KEYS: queue, lease.  ARGV: kehu_id,
# entry_json, fence token → {'ok'} or fenced
QUEUE_PUT_LUA = FENCE_LUA + HOOK_LUA + """
if fenced(KEYS[2], ARGV[3]) then return {'fenced', ''} end
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  hook_event(string.sub(KEYS[1], 1, -6), 'session.opened',
             {kehu_id = ARGV[1], queued = true, waiting = cjson.decode(ARGV[2])})
end
return {'ok'}
"""

# Offer a waiting kehu to one agent (issue 14, offers): the offers hash holds at most one
# offer per kehu, so an offer is never held by two agents, whichever node asks.
# KEYS: offers, queue, assign, lease.  ARGV: kehu_id, offer_json, fence token
# → {'ok'}, {'refused', reason, detail} (not_waiting, already_in_session, offered) or fenced
OFFER_PUT_LUA = FENCE_LUA + """
if fenced(KEYS[4], ARGV[3]) then return {'fenced', ''} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {'refused', 'not_waiting', ''} end
local current = redis.call('HGET', KEYS[3], ARGV[1])
if current then return {'refused', 'already_in_session', current} end
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then return {'refused', 'offered', cjson.decode(held)['id']} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
"""

# Take back an offer (declined, expired, or its agent gone), if it is still that one.
# KEYS: offers, lease.  ARGV: kehu_id, offer_id, fence token → {'ok', 1 | 0} or fenced
OFFER_DROP_LUA = FENCE_LUA + """
if fenced(KEYS[2], ARGV[3]) then return {'fenced', ''} end
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and cjson.decode(held)['id'] == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return {'ok', 1}
end
return {'ok', 0}
"""

# A waiting kehu stops waiting (it left a message instead, or its page has been gone too
# long): its queue entry and any offer of it go.  KEYS: queue, offers, lease.
# ARGV: kehu_id, fence token, reason (left_message | page_gone) → {'ok', 1 | 0}
QUEUE_DROP_LUA = FENCE_LUA + HOOK_LUA + """
if fenced(KEYS[3], ARGV[2]) then return {'fenced', ''} end
redis.call('HDEL', KEYS[2], ARGV[1])
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry then
  hook_event(string.sub(KEYS[1], 1, -6), 'queue.abandoned',
             {kehu_id = ARGV[1], reason = ARGV[3], waiting = cjson.decode(entry)})
end
return {'ok', redis.call('HDEL', KEYS[1], ARGV[1])}
"""
