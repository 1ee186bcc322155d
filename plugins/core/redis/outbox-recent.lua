-- The newest entries kept, newest first, of one receiver and one status (or
-- any), up to a limit, read in one step. Returns each as {field1, value1, ...}.

local outboxOrder = KEYS[1]  -- zset: entry id by write order

local receiver = ARGV[1]     -- '' for any
local status = ARGV[2]       -- '' for any
local limit = tonumber(ARGV[3])
local entryPrefix = ARGV[4]  -- an entry's hash is this followed by its id

local out = {}
local start = 0
while #out < limit do
  local batch = redis.call('ZREVRANGE', outboxOrder, start, start + 99)
  if #batch == 0 then break end
  for _, id in ipairs(batch) do
    if #out >= limit then break end
    local entry = entryPrefix .. id
    local fields = redis.call('HMGET', entry, 'receiver', 'status')
    if fields[1] and (receiver == '' or fields[1] == receiver) and (status == '' or fields[2] == status) then
      out[#out + 1] = redis.call('HGETALL', entry)
    end
  end
  start = start + 100
end
return out
