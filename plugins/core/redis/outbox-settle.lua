-- Settles or releases a claimed entry, in one step. 'settle' records the
-- attempt on its alert's list (capped per alert; past a number of alerts the
-- attempts of those attempted longest ago go), then leaves the entry due
-- again at `retryAt`, or finished (delivered or failed: past a number of
-- finished entries, the oldest go). 'release' gives a pending entry back,
-- due at `at`, without counting an attempt. Nothing is changed on an entry
-- that is no longer pending. Returns 1 when the entry was changed, else 0.

local entry = KEYS[1]           -- hash: the entry
local outboxReceivers = KEYS[2] -- set: receivers with pending entries
local outboxPending = KEYS[3]   -- zset: pending entry id by when written
local outboxFinished = KEYS[4]  -- zset: finished entry id by write order
local outboxOrder = KEYS[5]     -- zset: entry id by write order
local attemptsList = KEYS[6]    -- list: the attempts of the entry's alert (any name on 'release')
local attempted = KEYS[7]       -- zset: alert id by the order of its newest attempt
local attemptSeq = KEYS[8]      -- counter: the order of attempts

local mode = ARGV[1]            -- 'settle' | 'release'
local id = ARGV[2]
local at = ARGV[3]              -- the attempt's time ('settle'); when due again ('release')
local result = ARGV[4]          -- 'delivered' | 'retrying' | 'failed'
local attempt = ARGV[5]         -- the attempt's number
local lastStatus = ARGV[6]      -- '' for none
local lastError = ARGV[7]       -- '' for none
local retryAt = ARGV[8]         -- '' for none
local attemptJson = ARGV[9]
local alertId = ARGV[10]
local attemptsPerAlert = tonumber(ARGV[11])
local attemptedMax = tonumber(ARGV[12])
local finishedMax = tonumber(ARGV[13])
local entryPrefix = ARGV[14]    -- an entry's hash is this followed by its id
local attemptsPrefix = ARGV[15] -- an alert's attempts list is this followed by its id

if mode == 'settle' then
  redis.call('RPUSH', attemptsList, attemptJson)
  redis.call('LTRIM', attemptsList, -attemptsPerAlert, -1)
  redis.call('ZADD', attempted, redis.call('INCR', attemptSeq), alertId)
  local over = redis.call('ZCARD', attempted) - attemptedMax
  if over > 0 then
    for _, old in ipairs(redis.call('ZRANGE', attempted, 0, over - 1)) do redis.call('DEL', attemptsPrefix .. old) end
    redis.call('ZREMRANGEBYRANK', attempted, 0, over - 1)
  end
end

if redis.call('HGET', entry, 'status') ~= 'pending' then return 0 end
local fields = redis.call('HMGET', entry, 'member', 'dueKey', 'groupKey', 'receiver')
local member, dueKey, groupKey, receiver = fields[1], fields[2], fields[3], fields[4]
if mode == 'release' then
  redis.call('ZADD', dueKey, at, member)
  redis.call('HSET', entry, 'due', at, 'held', '0')
  return 1
end
redis.call('HSET', entry, 'attempts', attempt, 'lastAt', at, 'lastStatus', lastStatus, 'lastError', lastError, 'held', '0')
-- Tried once: no longer the rest of a group.
redis.call('ZREM', groupKey, member)
if result == 'retrying' then
  local due = retryAt
  if due == '' then due = at end
  redis.call('ZADD', dueKey, due, member)
  redis.call('HSET', entry, 'due', due)
  return 1
end
local status = 'failed'
if result == 'delivered' then status = 'delivered' end
redis.call('HSET', entry, 'status', status, 'due', '')
redis.call('ZREM', dueKey, member)
redis.call('ZREM', outboxPending, id)
if redis.call('ZCARD', dueKey) == 0 then redis.call('SREM', outboxReceivers, receiver) end
redis.call('ZADD', outboxFinished, tonumber(string.sub(member, 1, 16)), id)
local over = redis.call('ZCARD', outboxFinished) - finishedMax
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', outboxFinished, 0, over - 1)) do
    redis.call('DEL', entryPrefix .. old)
    redis.call('ZREM', outboxOrder, old)
  end
  redis.call('ZREMRANGEBYRANK', outboxFinished, 0, over - 1)
end
return 1
