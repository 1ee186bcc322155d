-- Returns 1 for the one caller that claims the miss of a ping: the monitor
-- exists, was not pinged since, and its miss is not claimed yet. Else 0. A
-- claimed miss leaves the due index until the next success.

local settings = KEYS[1] -- hash: name -> settings JSON
local last = KEYS[2]     -- hash: name -> last ping, ms since the epoch
local missed = KEYS[3]   -- hash: name -> the last ping whose miss was claimed
local due = KEYS[4]      -- sorted set: the monitors not missed, by deadline

local name = ARGV[1]
local lastPing = ARGV[2] -- the last ping the caller saw

if redis.call('HEXISTS', settings, name) == 0 then return 0 end
if redis.call('HGET', last, name) ~= lastPing then return 0 end
if redis.call('HSETNX', missed, name, lastPing) == 0 then return 0 end
redis.call('ZREM', due, name)
return 1
