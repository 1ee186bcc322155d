-- Reads monitors; 'remove' deletes the one it read, in the same step.
-- Returns {name1, settings1, last1, missed1 ('' when not missed), name2, ...}.

local settings = KEYS[1] -- hash: name -> settings JSON
local last = KEYS[2]     -- hash: name -> last ping, ms since the epoch
local missed = KEYS[3]   -- hash: name -> the last ping whose miss was claimed

local mode = ARGV[1]     -- 'all' | 'one' | 'remove'
local name = ARGV[2]     -- the monitor ('one', 'remove')

local names
if mode == 'all' then names = redis.call('HKEYS', settings) else names = {name} end
local out = {}
for _, each in ipairs(names) do
  local json = redis.call('HGET', settings, each)
  if json then
    out[#out + 1] = each
    out[#out + 1] = json
    out[#out + 1] = redis.call('HGET', last, each) or '0'
    out[#out + 1] = redis.call('HGET', missed, each) or ''
  end
end
if mode == 'remove' then
  redis.call('HDEL', settings, name)
  redis.call('HDEL', last, name)
  redis.call('HDEL', missed, name)
end
return out
