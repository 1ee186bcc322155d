-- Stores a monitor's settings and ping and ends its miss, in one step.
-- Returns 1 when the monitor was missed (the caller resolves its alert), else 0.

local settings = KEYS[1] -- hash: name -> settings JSON
local last = KEYS[2]     -- hash: name -> last ping, ms since the epoch
local missed = KEYS[3]   -- hash: name -> the last ping whose miss was claimed

local name = ARGV[1]
local settingsJson = ARGV[2]
local at = ARGV[3]       -- the ping's time

redis.call('HSET', settings, name, settingsJson)
redis.call('HSET', last, name, at)
return redis.call('HDEL', missed, name)
