-- Appends an event, folds the alert it carries, and publishes it, in one
-- atomic step: the order of the channel is the order of the history on every
-- instance, and a change whose expectation no longer holds stores nothing.
--
-- Returns {-1, JSON of the event first stored under the idempotency key} when
-- that key is still remembered, {0} when the expectation failed, {-2} when a
-- new alert would pass OPEN_ALERTS_MAX and none may be dropped for it (all
-- critical or acknowledged), {-3} when the silences changed since the
-- caller's notifications were worked out from them (it reads them again and
-- retries), else {seq, evicted alert ids...}.
--
-- The notifications of the event (outbox entries, worked out by the caller)
-- are written here, only when the event is stored, as outbox-write.lua
-- writes them.
--
-- The counter starts from the server's clock in microseconds whenever it is
-- missing (first use, or a Redis that lost its data): sequence numbers then
-- never go backwards, which lets an instance tell "already delivered" from
-- "new" across a Redis restart. string.format('%d') keeps them exact in the
-- message (Lua's own number-to-string conversion keeps 14 digits only).
-- Nothing here decodes stored JSON: eviction finds ids through the seqs
-- hash, so no stored text can make this step fail.

local seqKey = KEYS[1]          -- counter: the newest event's sequence number
local history = KEYS[2]         -- zset of the event's stream: event JSON by seq
local ids = KEYS[3]             -- hash: event id -> seq
local seqs = KEYS[4]            -- hash: seq -> event id
local alerts = KEYS[5]          -- hash: alert id -> alert JSON
local revs = KEYS[6]            -- hash: alert id -> id of the event that last changed it
local raisedSet = KEYS[7]       -- zset: alert id by the seq that raised it
local openKeys = KEYS[8]        -- hash: key -> id of its alert that is not resolved
local alertKeys = KEYS[9]       -- hash: alert id -> its key
local unresolvedInfo = KEYS[10] -- zsets of unresolved alerts by severity, scored by raising seq
local unresolvedWarning = KEYS[11]
local unresolvedCritical = KEYS[12]
local resolvedSet = KEYS[13]    -- zset: resolved alert id by the seq that resolved it
local onceKey = KEYS[14]        -- the idempotency key (any name when there is none)
local evicted = KEYS[15]        -- hash: history key -> seq of the newest event that stream let go
local acknowledgedSet = KEYS[16] -- set: alerts acknowledged and not resolved, never dropped for room
local silencesRev = KEYS[17]    -- counter: bumped by every change of the silences
local outboxSeq = KEYS[18]      -- counter: the write order of outbox entries
local outboxReceivers = KEYS[19] -- set: receivers with pending entries
local outboxOrder = KEYS[20]    -- zset: entry id by write order
local outboxPending = KEYS[21]  -- zset: pending entry id by when written

local eventId = ARGV[1]
local eventJson = ARGV[2]
local historySize = tonumber(ARGV[3])
local channel = ARGV[4]
local expectKind = ARGV[5]      -- 'none' | 'key-free' | 'rev'
local expectKey = ARGV[6]       -- the key (key-free) or the alert id (rev)
local expectRev = ARGV[7]       -- the revision (rev)
local alertId = ARGV[8]         -- '' when the event carries no alert
local alertJson = ARGV[9]
local alertState = ARGV[10]
local alertSeverity = ARGV[11]
local alertKey = ARGV[12]       -- '' for none
local unresolvedMax = tonumber(ARGV[13])
local onceTtlMs = ARGV[14]      -- '' when there is no idempotency key
local silencesSeen = ARGV[15]   -- the silences revision the drafts were worked out at; '' when nothing is routed
local drafts = ARGV[16]         -- JSON: the outbox entries, as outbox-write.lua takes them
local createdAt = ARGV[17]      -- the entries' time, ms since the epoch

-- include outbox-entries.lua

if onceTtlMs ~= '' then
  local prior = redis.call('GET', onceKey)
  if prior then return {-1, prior} end
end
if expectKind == 'key-free' then
  if redis.call('HEXISTS', openKeys, expectKey) == 1 then return {0} end
elseif expectKind == 'rev' then
  if redis.call('HGET', revs, expectKey) ~= expectRev then return {0} end
end
if silencesSeen ~= '' and (redis.call('GET', silencesRev) or '0') ~= silencesSeen then return {-3} end
local unresolved = {unresolvedInfo, unresolvedWarning, unresolvedCritical}
-- The oldest open alert that may be dropped for room: info first, then
-- warning; never a critical one, never one somebody acknowledged. With its
-- rank (1 info, 2 warning).
local function firstVictim ()
  for s = 1, 2 do
    local start = 0
    while true do
      local batch = redis.call('ZRANGE', unresolved[s], start, start + 99)
      if #batch == 0 then break end
      for _, id in ipairs(batch) do
        if redis.call('SISMEMBER', acknowledgedSet, id) == 0 then return id, s end
      end
      start = start + 100
    end
  end
  return nil
end
local function unresolvedCount ()
  return redis.call('ZCARD', unresolvedInfo) + redis.call('ZCARD', unresolvedWarning) + redis.call('ZCARD', unresolvedCritical)
end
-- A new alert on a full board: refused, before anything is written, when
-- nothing may make room, or only alerts more severe than it (it would be the one to go:
-- noRoomFor in lifecycle.ts, the same rule for memory and SQLite).
if alertId ~= '' and alertState ~= 'resolved' and not redis.call('ZSCORE', raisedSet, alertId) then
  if unresolvedCount() >= unresolvedMax then
    local victim, rank = firstVictim()
    local own = 3
    if alertSeverity == 'info' then own = 1 elseif alertSeverity == 'warning' then own = 2 end
    if not victim or own < rank then return {-2} end
  end
end
if redis.call('EXISTS', seqKey) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', seqKey, now[1] .. string.format('%06d', tonumber(now[2])))
end
local seq = redis.call('INCR', seqKey)
redis.call('ZADD', history, seq, eventJson)
redis.call('HSET', ids, eventId, seq)
redis.call('HSET', seqs, seq, eventId)
local excess = redis.call('ZCARD', history) - historySize
if excess > 0 then
  local olds = redis.call('ZRANGE', history, 0, excess - 1, 'WITHSCORES')
  for i = 2, #olds, 2 do
    local oldId = redis.call('HGET', seqs, olds[i])
    if oldId then redis.call('HDEL', ids, oldId) end
    redis.call('HDEL', seqs, olds[i])
  end
  redis.call('ZREMRANGEBYRANK', history, 0, excess - 1)
  redis.call('HSET', evicted, history, olds[#olds])
end
local out = {seq}
local function forget (id)
  local key = redis.call('HGET', alertKeys, id)
  if key and redis.call('HGET', openKeys, key) == id then redis.call('HDEL', openKeys, key) end
  redis.call('HDEL', alerts, id)
  redis.call('HDEL', revs, id)
  redis.call('HDEL', alertKeys, id)
  redis.call('ZREM', raisedSet, id)
  for _, set in ipairs(unresolved) do redis.call('ZREM', set, id) end
  redis.call('ZREM', resolvedSet, id)
  redis.call('SREM', acknowledgedSet, id)
end
if alertId ~= '' then
  local raised = redis.call('ZSCORE', raisedSet, alertId)
  if not raised then
    raised = seq
    redis.call('ZADD', raisedSet, seq, alertId)
  end
  redis.call('HSET', alerts, alertId, alertJson)
  redis.call('HSET', revs, alertId, eventId)
  for _, set in ipairs(unresolved) do redis.call('ZREM', set, alertId) end
  if alertKey ~= '' then redis.call('HSET', alertKeys, alertId, alertKey) end
  if alertState == 'acknowledged' then redis.call('SADD', acknowledgedSet, alertId) else redis.call('SREM', acknowledgedSet, alertId) end
  if alertState == 'resolved' then
    if redis.call('ZSCORE', resolvedSet, alertId) == false then redis.call('ZADD', resolvedSet, seq, alertId) end
    if alertKey ~= '' and redis.call('HGET', openKeys, alertKey) == alertId then redis.call('HDEL', openKeys, alertKey) end
    local over = redis.call('ZCARD', resolvedSet) - historySize
    if over > 0 then
      for _, old in ipairs(redis.call('ZRANGE', resolvedSet, 0, over - 1)) do forget(old) end
    end
  else
    local set = unresolvedInfo
    if alertSeverity == 'warning' then set = unresolvedWarning elseif alertSeverity == 'critical' then set = unresolvedCritical end
    redis.call('ZADD', set, raised, alertId)
    if alertKey ~= '' then redis.call('HSET', openKeys, alertKey, alertId) end
    local over = unresolvedCount() - unresolvedMax
    -- The least severe go first, oldest first within a severity.
    while over > 0 do
      local old = firstVictim()
      if not old then break end
      forget(old)
      out[#out + 1] = old
      over = over - 1
    end
  end
end
writeOutboxEntries(drafts, eventJson, alertId, createdAt, outboxSeq, outboxReceivers, outboxOrder, outboxPending)
if onceTtlMs ~= '' then redis.call('SET', onceKey, eventJson, 'PX', onceTtlMs) end
redis.call('PUBLISH', channel, '{"seq":' .. string.format('%d', seq) .. ',"event":' .. eventJson .. '}')
return out
