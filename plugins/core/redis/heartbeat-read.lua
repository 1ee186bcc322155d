-- Reads monitors; 'remove' deletes the one it read (and its pings), in the same step.
-- Returns {name1, settings1, last1, missed1 ('' when not missed), deadline1 ('' when
-- stored before deadlines were), started1 ('' when no run is in progress), name2, ...};
-- 'pings' returns the monitor's pings, newest first; 'count' returns {monitors,
-- missed ones, due ones}; 'index' puts the monitors stored before the due index
-- into it (once per process) and returns nothing.

local settings = KEYS[1] -- hash: name -> settings JSON
local last = KEYS[2]     -- hash: name -> last ping, ms since the epoch
local missed = KEYS[3]   -- hash: name -> the last ping whose miss was claimed
local deadlines = KEYS[4] -- hash: name -> when a miss is due, ms
local started = KEYS[5]  -- hash: name -> the start of the run in progress, ms
local due = KEYS[6]      -- sorted set: the monitors not missed, by deadline
local pings = KEYS[7]    -- list: the monitor's last pings ('one', 'remove', 'pings')

local mode = ARGV[1]     -- 'all' | 'one' | 'remove' | 'due' | 'pings' | 'index' | 'count'
local name = ARGV[2]     -- the monitor ('one', 'remove', 'pings')
local now = ARGV[3]      -- 'due', 'count': the monitors whose deadline is at or before it

if mode == 'pings' then return redis.call('LRANGE', pings, 0, -1) end
if mode == 'count' then
  return {redis.call('HLEN', settings), redis.call('HLEN', missed), redis.call('ZCOUNT', due, '-inf', now)}
end
if mode == 'index' then
  for _, each in ipairs(redis.call('HKEYS', settings)) do
    if redis.call('HEXISTS', deadlines, each) == 0 then
      local stored = cjson.decode(redis.call('HGET', settings, each))
      local at = tonumber(redis.call('HGET', last, each) or '0') + stored.everyMs + stored.graceMs
      redis.call('HSET', deadlines, each, string.format('%d', at))
      if redis.call('HEXISTS', missed, each) == 0 then redis.call('ZADD', due, at, each) end
    end
  end
  return {}
end

local names
if mode == 'all' then
  names = redis.call('HKEYS', settings)
elseif mode == 'due' then
  names = redis.call('ZRANGEBYSCORE', due, '-inf', now)
else
  names = {name}
end
local out = {}
for _, each in ipairs(names) do
  local json = redis.call('HGET', settings, each)
  if json then
    out[#out + 1] = each
    out[#out + 1] = json
    out[#out + 1] = redis.call('HGET', last, each) or '0'
    out[#out + 1] = redis.call('HGET', missed, each) or ''
    out[#out + 1] = redis.call('HGET', deadlines, each) or ''
    out[#out + 1] = redis.call('HGET', started, each) or ''
  end
end
if mode == 'remove' then
  redis.call('HDEL', settings, name)
  redis.call('HDEL', last, name)
  redis.call('HDEL', missed, name)
  redis.call('HDEL', deadlines, name)
  redis.call('HDEL', started, name)
  redis.call('ZREM', due, name)
  redis.call('DEL', pings)
end
return out
