"""The Lua scripts that make each state change atomic with its snapshot and indexes.

Each script is one atomic step in Redis; its KEYS and ARGV are listed above it. Key names
built *inside* a script (the per-message indexes: by time, by sender and recipient, by
content type, hour/day counters) follow ``kefu/persistence/keys.py`` — prefix plus the
same suffixes — because they depend on the message itself.

``ASSIGN_LUA`` and ``CLOSE_LUA`` bump the session's ``generation`` (its change counter)
and return it, so the session actor told of the change can tell whether what it read
already includes it.
"""

from __future__ import annotations

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

# Append one chat message to a session, exactly once, with no gap in ``seq``.
# KEYS: meta, stream, dedup, msgidx
# ARGV: seq, msg_json, msg_id, side, now, preview, dedup_ttl, sid, has_dedup,
#       response_seconds ('' if this message answers nothing), then pairs of extra meta
#       fields (the session's statistics snapshot).
APPEND_LUA = INDEX_LUA + """
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
for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[9] == '1' then redis.call('SET', KEYS[3], ARGV[2], 'EX', tonumber(ARGV[7])) end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[8] .. '|' .. ARGV[1])
local prefix = string.sub(KEYS[4], 1, -7)
index_message(prefix, ARGV[8] .. '|' .. ARGV[1], cjson.decode(ARGV[2]),
              math.floor(tonumber(ARGV[5]) * 1000), ARGV[4], ARGV[10])
return {'ok', ''}
"""

# Keep a message of a kehu that has no session yet (it is moved into the session when
# the kehu is assigned).  KEYS: waitlist, dedup, msgidx.  ARGV: msg_json, msg_id, ttl,
# has_dedup, kehu_id
WAIT_APPEND_LUA = """
if ARGV[4] == '1' then
  local d = redis.call('GET', KEYS[2])
  if d then return {'dup', d} end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[3])) end
redis.call('HSET', KEYS[3], ARGV[2], 'wait|' .. ARGV[5])
return {'ok', ''}
"""

# Open (or reopen) a session, move the kehu's waiting messages into it, take the kehu
# off the queue and record the assignment, all at once.
# KEYS: meta, stream, waitlist, queue, assign, sessions, kehu_sessions, kefu_sessions,
#       msgidx, events, kehu_active, kefu_active
# ARGV: sid, kehu_id, kefu_id, now, transferred_from, dedup_prefix, dedup_ttl, event_json,
#       kehu_name, kefu_name
# → {generation, the moved messages' JSON…}
ASSIGN_LUA = INDEX_LUA + """
local now = ARGV[4]
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then
  redis.call('HSET', KEYS[1], 'created_at', now, 'seq', 0, 'message_count', 0,
             'kefu_messages', 0, 'kehu_messages', 0, 'last_message', '')
end
redis.call('HSET', KEYS[1], 'session_id', ARGV[1], 'kehu_id', ARGV[2], 'kefu_id', ARGV[3],
           'status', 'active', 'updated_at', now, 'opened_at', now,
           'kehu_name', ARGV[9], 'kefu_name', ARGV[10])
redis.call('HDEL', KEYS[1], 'ended_at', 'awaiting_since', 'transferred_to', 'end_reason',
           'transferred_from', 'satisfaction', 'rating_comment', 'rated_at')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'transferred_from', ARGV[5]) end
local ev = cjson.decode(ARGV[8])
ev['after_seq'] = tonumber(redis.call('HGET', KEYS[1], 'seq'))
redis.call('RPUSH', KEYS[10], cjson.encode(ev))
local moved = {}
local waiting = redis.call('LRANGE', KEYS[3], 0, -1)
for _, raw in ipairs(waiting) do
  local m = cjson.decode(raw)
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  m['seq'] = seq
  m['session_id'] = ARGV[1]
  m['to'] = ARGV[3]
  local enc = cjson.encode(m)
  redis.call('XADD', KEYS[2], '0-' .. seq, 'm', enc)
  redis.call('HINCRBY', KEYS[1], 'message_count', 1)
  redis.call('HINCRBY', KEYS[1], 'kehu_messages', 1)
  redis.call('HSET', KEYS[1], 'last_message', string.sub(m['content'] or '', 1, 200))
  redis.call('HSET', KEYS[9], m['id'], ARGV[1] .. '|' .. seq)
  index_message(string.sub(KEYS[9], 1, -7), ARGV[1] .. '|' .. seq, m,
                math.floor(tonumber(now) * 1000), 'kehu', '')
  if type(m['client_msg_id']) == 'string' then
    redis.call('SET', ARGV[6] .. ARGV[2] .. ':' .. m['client_msg_id'], enc, 'EX', tonumber(ARGV[7]))
  end
  if redis.call('HEXISTS', KEYS[1], 'awaiting_since') == 0 then
    redis.call('HSET', KEYS[1], 'awaiting_since', now)
  end
  moved[#moved + 1] = enc
end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[6], 'NX', now, ARGV[1])
redis.call('ZADD', KEYS[7], now, ARGV[1])
redis.call('ZADD', KEYS[8], now, ARGV[1])
redis.call('SADD', KEYS[11], ARGV[1])
redis.call('SADD', KEYS[12], ARGV[1])
table.insert(moved, 1, redis.call('HINCRBY', KEYS[1], 'generation', 1))
return moved
"""

# Close a session (completed or transferred) and, optionally, put its kehu back in
# the queue.  KEYS: meta, assign, events, queue, kehu_active, kefu_active
# ARGV: status, now, kehu_id, event_json, requeue_json ('' for none), reason, transferred_to
# → the session's generation
CLOSE_LUA = """
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_at', ARGV[2], 'updated_at', ARGV[2],
           'end_reason', ARGV[6])
redis.call('HDEL', KEYS[1], 'awaiting_since')
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'transferred_to', ARGV[7]) end
if redis.call('HGET', KEYS[2], ARGV[3]) == redis.call('HGET', KEYS[1], 'session_id') then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
local ev = cjson.decode(ARGV[4])
ev['after_seq'] = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
redis.call('RPUSH', KEYS[3], cjson.encode(ev))
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[3], ARGV[5]) end
redis.call('SREM', KEYS[5], redis.call('HGET', KEYS[1], 'session_id'))
redis.call('SREM', KEYS[6], redis.call('HGET', KEYS[1], 'session_id'))
return redis.call('HINCRBY', KEYS[1], 'generation', 1)
"""
