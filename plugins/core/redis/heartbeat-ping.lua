-- Stores a monitor's settings and a ping in one step: a success ends a miss,
-- a failure is one (unless it was missed already), a start keeps it; the due
-- index holds the monitor only while it is not missed. A new name past the
-- cap is refused. Returns {-1, '', ''} when refused, else {1 when the monitor
-- was missed (else 0), the start of the run it ends ('' when none), the ping
-- whose miss stands after it ('' when none)}.

local settings = KEYS[1] -- hash: name -> settings JSON
local last = KEYS[2]     -- hash: name -> last ping, ms since the epoch
local missed = KEYS[3]   -- hash: name -> the last ping whose miss was claimed
local deadlines = KEYS[4] -- hash: name -> when a miss is due, ms
local started = KEYS[5]  -- hash: name -> the start of the run in progress, ms
local due = KEYS[6]      -- sorted set: the monitors not missed, by deadline
local pings = KEYS[7]    -- list: this monitor's last pings as JSON, newest first

local name = ARGV[1]
local settingsJson = ARGV[2]
local at = ARGV[3]       -- the ping's time
local kind = ARGV[4]     -- 'success' | 'start' | 'fail'
local deadline = ARGV[5] -- the monitor's deadline after this ping
local max = tonumber(ARGV[6])
local pingJson = ARGV[7] -- the ping, a JSON object without its duration
local kept = tonumber(ARGV[8])

if redis.call('HEXISTS', settings, name) == 0 and redis.call('HLEN', settings) >= max then return {-1, '', ''} end
local wasMissed = redis.call('HGET', missed, name)
local startedAt = redis.call('HGET', started, name)

redis.call('HSET', settings, name, settingsJson)
redis.call('HSET', last, name, at)
redis.call('HSET', deadlines, name, deadline)
local record = pingJson
if kind == 'start' then
  redis.call('HSET', started, name, at)
else
  redis.call('HDEL', started, name)
  if startedAt then
    local took = math.max(0, tonumber(at) - tonumber(startedAt))
    record = string.sub(pingJson, 1, -2) .. ',"durationMs":' .. string.format('%d', took) .. '}'
  end
  if kind == 'success' then
    redis.call('HDEL', missed, name)
  elseif not wasMissed then
    redis.call('HSET', missed, name, at)
  end
end
if redis.call('HEXISTS', missed, name) == 1 then
  redis.call('ZREM', due, name)
else
  redis.call('ZADD', due, deadline, name)
end
redis.call('LPUSH', pings, record)
redis.call('LTRIM', pings, 0, kept - 1)
local missedNow = redis.call('HGET', missed, name) or ''
if wasMissed then return {1, startedAt or '', missedNow} end
return {0, startedAt or '', missedNow}
