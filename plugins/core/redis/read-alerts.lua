-- Reads alerts as they stand, with their revision and raising seq, in the
-- order they were raised. Returns {json1, rev1, seq1, json2, ...}.

local alerts = KEYS[1]    -- hash: alert id -> alert JSON
local revs = KEYS[2]      -- hash: alert id -> id of the event that last changed it
local raisedSet = KEYS[3] -- zset: alert id by the seq that raised it
local openKeys = KEYS[4]  -- hash: key -> id of its alert that is not resolved
local listed = KEYS[5]    -- the zset to list: raised, or one severity's unresolved set

local mode = ARGV[1]      -- 'id' | 'key' | 'set' (every member of listed) | 'newest'
local value = ARGV[2]     -- the alert id ('id'), the key ('key'), how many ('newest')
local below = ARGV[3]     -- 'newest': scores below this ('+inf' for no bound)

local ids = {}
if mode == 'id' then
  ids = {value}
elseif mode == 'key' then
  local id = redis.call('HGET', openKeys, value)
  if id then ids = {id} end
elseif mode == 'newest' then
  local max = below == '+inf' and '+inf' or '(' .. below
  ids = redis.call('ZREVRANGEBYSCORE', listed, max, '-inf', 'LIMIT', 0, tonumber(value))
else
  ids = redis.call('ZRANGE', listed, 0, -1)
end
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', alerts, id)
  if json then
    out[#out + 1] = json
    out[#out + 1] = redis.call('HGET', revs, id)
    out[#out + 1] = redis.call('ZSCORE', raisedSet, id)
  end
end
return out
