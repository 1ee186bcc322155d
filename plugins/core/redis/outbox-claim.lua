-- Claims a receiver's entries for a lease, in one step, so that of several
-- instances exactly one holds each entry: 'due' takes those due at `now`
-- (oldest due first, then in write order); 'group' takes its grouped entries
-- never tried, due or not, that no live claim holds (in write order). A
-- claimed entry is due again when its lease ends (its sender died).
-- Returns each entry claimed as {field1, value1, ...}.

local dueSet = KEYS[1]   -- zset: the receiver's pending entries by due time
local groupSet = KEYS[2] -- zset: the receiver's grouped entries never tried, by write order

local mode = ARGV[1]     -- 'due' | 'group'
local now = ARGV[2]      -- ms since the epoch
local leaseMs = ARGV[3]
local limit = tonumber(ARGV[4])
local entryPrefix = ARGV[5] -- an entry's hash is this followed by its id

local held = string.format('%d', tonumber(now) + tonumber(leaseMs))
local out = {}
-- Members are '<16-digit seq>:<id>'.
local function take (member)
  local entry = entryPrefix .. string.sub(member, 18)
  -- An entry whose hash is gone (a Redis that evicts keys under memory
  -- pressure) is dropped from the indexes rather than handed out empty.
  if redis.call('EXISTS', entry) == 0 then
    redis.call('ZREM', dueSet, member)
    redis.call('ZREM', groupSet, member)
    return
  end
  redis.call('ZADD', dueSet, held, member)
  redis.call('HSET', entry, 'due', held, 'held', held)
  out[#out + 1] = redis.call('HGETALL', entry)
end

if limit <= 0 then return out end
if mode == 'due' then
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', dueSet, '-inf', now, 'LIMIT', 0, limit)) do take(member) end
  return out
end
local start = 0
while #out < limit do
  local batch = redis.call('ZRANGE', groupSet, start, start + 99)
  if #batch == 0 then break end
  for _, member in ipairs(batch) do
    if #out >= limit then break end
    local until_ = redis.call('HGET', entryPrefix .. string.sub(member, 18), 'held')
    if until_ and tonumber(until_) <= tonumber(now) then take(member) end
  end
  start = start + 100
end
return out
