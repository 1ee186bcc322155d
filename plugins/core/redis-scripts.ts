/**
 * The Lua steps of the Redis backend. Each runs atomically in Redis, so every
 * instance sees one history and one channel order.
 */

/**
 * Appends an event, folds the alert it carries, and publishes it, in one
 * atomic step: the order of the channel is the order of the history on every
 * instance, and a change whose expectation no longer holds stores nothing.
 *
 * KEYS: 1 seq, 2 history of the event's stream, 3 ids (id → seq), 4 seqs (seq → id),
 *   5 alerts (id → alert JSON), 6 revs (id → id of the event that last changed it),
 *   7 raised (zset: alert id by the seq that raised it), 8 open keys (key → id),
 *   9 keys (id → key), 10-12 unresolved alerts by severity (info, warning, critical;
 *   zsets scored by raising seq), 13 resolved (zset: id by resolving seq),
 *   14 the idempotency key (any name when there is none), 15 evicted (hash:
 *   history key → seq of the newest event that stream has let go).
 * ARGV: 1 event id, 2 event JSON, 3 history size, 4 channel, 5 expectation
 *   ('none' | 'key-free' | 'rev'), 6-7 its arguments (key; or alert id, rev),
 *   8 alert id ('' when the event carries none), 9 alert JSON, 10 its state,
 *   11 its severity, 12 its key ('' for none), 13 most unresolved alerts kept,
 *   14 the idempotency key's ttl in milliseconds ('' when there is none).
 * Returns {-1, JSON of the event first stored under the idempotency key} when
 * that key is still remembered, {0} when the expectation failed, else
 * {seq, evicted alert ids...}.
 *
 * The counter starts from the server's clock in microseconds whenever it is
 * missing (first use, or a Redis that lost its data): sequence numbers then
 * never go backwards, which lets an instance tell "already delivered" from
 * "new" across a Redis restart. string.format('%d') keeps them exact in the
 * message (Lua's own number-to-string conversion keeps 14 digits only).
 * Nothing here decodes stored JSON: eviction finds ids through the seqs
 * hash, so no stored text can make this step fail.
 */
export const APPEND_LUA = `
if ARGV[14] ~= '' then
  local prior = redis.call('GET', KEYS[14])
  if prior then return {-1, prior} end
end
if ARGV[5] == 'key-free' then
  if redis.call('HEXISTS', KEYS[8], ARGV[6]) == 1 then return {0} end
elseif ARGV[5] == 'rev' then
  if redis.call('HGET', KEYS[6], ARGV[6]) ~= ARGV[7] then return {0} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq)
redis.call('HSET', KEYS[4], seq, ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local olds = redis.call('ZRANGE', KEYS[2], 0, excess - 1, 'WITHSCORES')
  for i = 2, #olds, 2 do
    local oldId = redis.call('HGET', KEYS[4], olds[i])
    if oldId then redis.call('HDEL', KEYS[3], oldId) end
    redis.call('HDEL', KEYS[4], olds[i])
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  redis.call('HSET', KEYS[15], KEYS[2], olds[#olds])
end
local out = {seq}
local function forget (id)
  local key = redis.call('HGET', KEYS[9], id)
  if key and redis.call('HGET', KEYS[8], key) == id then redis.call('HDEL', KEYS[8], key) end
  redis.call('HDEL', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  redis.call('HDEL', KEYS[9], id)
  redis.call('ZREM', KEYS[7], id)
  redis.call('ZREM', KEYS[10], id)
  redis.call('ZREM', KEYS[11], id)
  redis.call('ZREM', KEYS[12], id)
  redis.call('ZREM', KEYS[13], id)
end
local id = ARGV[8]
if id ~= '' then
  local raised = redis.call('ZSCORE', KEYS[7], id)
  if not raised then
    raised = seq
    redis.call('ZADD', KEYS[7], seq, id)
  end
  redis.call('HSET', KEYS[5], id, ARGV[9])
  redis.call('HSET', KEYS[6], id, ARGV[1])
  redis.call('ZREM', KEYS[10], id)
  redis.call('ZREM', KEYS[11], id)
  redis.call('ZREM', KEYS[12], id)
  if ARGV[12] ~= '' then redis.call('HSET', KEYS[9], id, ARGV[12]) end
  if ARGV[10] == 'resolved' then
    if redis.call('ZSCORE', KEYS[13], id) == false then redis.call('ZADD', KEYS[13], seq, id) end
    if ARGV[12] ~= '' and redis.call('HGET', KEYS[8], ARGV[12]) == id then redis.call('HDEL', KEYS[8], ARGV[12]) end
    local over = redis.call('ZCARD', KEYS[13]) - tonumber(ARGV[3])
    if over > 0 then
      for _, old in ipairs(redis.call('ZRANGE', KEYS[13], 0, over - 1)) do forget(old) end
    end
  else
    local set = KEYS[10]
    if ARGV[11] == 'warning' then set = KEYS[11] elseif ARGV[11] == 'critical' then set = KEYS[12] end
    redis.call('ZADD', set, raised, id)
    if ARGV[12] ~= '' then redis.call('HSET', KEYS[8], ARGV[12], id) end
    local over = redis.call('ZCARD', KEYS[10]) + redis.call('ZCARD', KEYS[11]) + redis.call('ZCARD', KEYS[12]) - tonumber(ARGV[13])
    local s = 10
    while over > 0 and s <= 12 do
      local victims = redis.call('ZRANGE', KEYS[s], 0, over - 1)
      for _, old in ipairs(victims) do
        forget(old)
        out[#out + 1] = old
        over = over - 1
      end
      s = s + 1
    end
  end
end
if ARGV[14] ~= '' then redis.call('SET', KEYS[14], ARGV[2], 'PX', ARGV[14]) end
redis.call('PUBLISH', ARGV[4], '{"seq":' .. string.format('%d', seq) .. ',"event":' .. ARGV[2] .. '}')
return out
`

/**
 * Reads alerts as they stand, with their revision and raising seq, in the
 * order they were raised.
 *
 * KEYS: 1 alerts, 2 revs, 3 raised, 4 open keys, 5 the zset to list (raised,
 *   or one severity's unresolved set).
 * ARGV: 1 mode: 'id' (ARGV[2] is an alert id), 'key' (ARGV[2] is a key whose
 *   alert is not resolved), 'set' (every member of KEYS[5]), 'newest' (up to
 *   ARGV[2] members of KEYS[5] scored below ARGV[3] ('+inf' for no bound),
 *   newest first).
 * Returns {json1, rev1, seq1, json2, ...}.
 */
export const READ_ALERTS_LUA = `
local ids = {}
if ARGV[1] == 'id' then
  ids = {ARGV[2]}
elseif ARGV[1] == 'key' then
  local id = redis.call('HGET', KEYS[4], ARGV[2])
  if id then ids = {id} end
elseif ARGV[1] == 'newest' then
  local below = ARGV[3] == '+inf' and '+inf' or '(' .. ARGV[3]
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[5], below, '-inf', 'LIMIT', 0, tonumber(ARGV[2]))
else
  ids = redis.call('ZRANGE', KEYS[5], 0, -1)
end
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[1], id)
  if json then
    out[#out + 1] = json
    out[#out + 1] = redis.call('HGET', KEYS[2], id)
    out[#out + 1] = redis.call('ZSCORE', KEYS[3], id)
  end
end
return out
`

/**
 * Reads, in one consistent snapshot, the retained events of both streams after
 * a point, merged in sequence order.
 *
 * KEYS: seq, history:alert, history:chat, ids, evicted.
 * ARGV[1]: 'all' (every retained event), 'id' (after the event whose id is
 * ARGV[2]) or 'seq' (after sequence number ARGV[2]).
 * Returns {found, newest, seq1, json1, seq2, json2, ...}: found is 0 when the
 * id is not retained, or when either stream has let go of an event after it
 * (the streams are capped apart: a chat id can outlive the alerts after it);
 * everything is returned then. newest is the counter.
 * Sequence numbers travel as strings, exactly as Redis stored them.
 */
export const RANGE_LUA = `
local newest = redis.call('GET', KEYS[1]) or '0'
local after = '-inf'
local found = 1
if ARGV[1] == 'id' then
  local seq = redis.call('HGET', KEYS[4], ARGV[2])
  if seq then after = '(' .. seq else found = 0 end
  for _, stream in ipairs({KEYS[2], KEYS[3]}) do
    local evicted = redis.call('HGET', KEYS[5], stream)
    if seq and evicted and tonumber(evicted) > tonumber(seq) then
      after = '-inf'
      found = 0
    end
  end
elseif ARGV[1] == 'seq' then
  after = '(' .. ARGV[2]
end
local a = redis.call('ZRANGEBYSCORE', KEYS[2], after, '+inf', 'WITHSCORES')
local c = redis.call('ZRANGEBYSCORE', KEYS[3], after, '+inf', 'WITHSCORES')
local out = {found, newest}
local i, j = 1, 1
while i <= #a or j <= #c do
  if j > #c or (i <= #a and tonumber(a[i + 1]) < tonumber(c[j + 1])) then
    out[#out + 1] = a[i + 1]
    out[#out + 1] = a[i]
    i = i + 2
  else
    out[#out + 1] = c[j + 1]
    out[#out + 1] = c[j]
    j = j + 2
  end
end
return out
`

/**
 * Heartbeat monitors. KEYS (for all three): 1 settings (hash: name → settings
 * JSON), 2 last pings (hash: name → ms since the epoch, as text), 3 claimed
 * misses (hash: name → the last ping whose miss was claimed).
 *
 * HEARTBEAT_PING_LUA: ARGV 1 name, 2 settings JSON, 3 the ping's time.
 * Stores the settings and the ping and ends a miss, in one step; returns 1
 * when the monitor was missed (the caller resolves its alert), else 0.
 */
export const HEARTBEAT_PING_LUA = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return redis.call('HDEL', KEYS[3], ARGV[1])
`

/**
 * HEARTBEAT_MISS_LUA: ARGV 1 name, 2 the last ping the caller saw.
 * Returns 1 for the one caller that claims the miss of that ping: the monitor
 * exists, was not pinged since, and its miss is not claimed yet. Else 0.
 */
export const HEARTBEAT_MISS_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2])
`

/**
 * HEARTBEAT_READ_LUA: ARGV 1 mode: 'all' (every monitor), 'one' (ARGV[2]'s),
 * 'remove' (ARGV[2]'s, which is then deleted, in the same step).
 * Returns {name1, settings1, last1, missed1 ('' when not missed), name2, ...}.
 */
export const HEARTBEAT_READ_LUA = `
local names
if ARGV[1] == 'all' then names = redis.call('HKEYS', KEYS[1]) else names = {ARGV[2]} end
local out = {}
for _, name in ipairs(names) do
  local settings = redis.call('HGET', KEYS[1], name)
  if settings then
    out[#out + 1] = name
    out[#out + 1] = settings
    out[#out + 1] = redis.call('HGET', KEYS[2], name) or '0'
    out[#out + 1] = redis.call('HGET', KEYS[3], name) or ''
  end
end
if ARGV[1] == 'remove' then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
end
return out
`
