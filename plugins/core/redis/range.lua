-- Reads, in one consistent snapshot, the retained events of both streams after
-- a point, merged in sequence order.
--
-- Returns {found, newest, more, seq1, json1, seq2, json2, ...}: found is 0
-- when the id is not retained, or when either stream has let go of an event
-- after it (the streams are capped apart: a chat id can outlive the alerts
-- after it); everything is returned then. newest is the counter. With a
-- limit, only the first `limit` events, and more is 1 when others follow.
-- Sequence numbers travel as strings, exactly as Redis stored them.

local seqKey = KEYS[1]       -- counter: the newest event's sequence number
local alertHistory = KEYS[2] -- zset: alert stream, event JSON by seq
local chatHistory = KEYS[3]  -- zset: chat stream, event JSON by seq
local ids = KEYS[4]          -- hash: event id -> seq
local evicted = KEYS[5]      -- hash: history key -> seq of the newest event that stream let go

local mode = ARGV[1]         -- 'all' | 'id' (after the event with id `after`) | 'seq' (after seq `after`)
local after = ARGV[2]
local limit = tonumber(ARGV[3]) or 0 -- at most this many events (0: all)

local newest = redis.call('GET', seqKey) or '0'
local min = '-inf'
local found = 1
if mode == 'id' then
  local seq = redis.call('HGET', ids, after)
  if seq then min = '(' .. seq else found = 0 end
  for _, stream in ipairs({alertHistory, chatHistory}) do
    local gone = redis.call('HGET', evicted, stream)
    if seq and gone and tonumber(gone) > tonumber(seq) then
      min = '-inf'
      found = 0
    end
  end
elseif mode == 'seq' then
  min = '(' .. after
end
local function read (stream)
  if limit > 0 then return redis.call('ZRANGEBYSCORE', stream, min, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1) end
  return redis.call('ZRANGEBYSCORE', stream, min, '+inf', 'WITHSCORES')
end
local a = read(alertHistory)
local c = read(chatHistory)
local out = {found, newest, 0}
local i, j = 1, 1
while i <= #a or j <= #c do
  if limit > 0 and #out >= 3 + 2 * limit then
    out[3] = 1
    break
  end
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
