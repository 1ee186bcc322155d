-- Writes outbox entries about an event that is not being appended now (an
-- alert still open when its silence ended, a reminder). append.lua writes
-- the entries of an appended event the same way, in the append's own step.
-- Returns the number of entries written.

local outboxSeq = KEYS[1]       -- counter: the write order of entries
local outboxReceivers = KEYS[2] -- set: receivers with pending entries
local outboxOrder = KEYS[3]     -- zset: entry id by write order
local outboxPending = KEYS[4]   -- zset: pending entry id by when written

local eventJson = ARGV[1]
local alertId = ARGV[2]
local drafts = ARGV[3]          -- JSON: [{id, receiver, kind, groupMs?, entryKey, dueKey, groupKey}]
local createdAt = ARGV[4]       -- ms since the epoch

local written = 0
for _, d in ipairs(cjson.decode(drafts)) do
  local n = redis.call('INCR', outboxSeq)
  local member = string.format('%016d', n) .. ':' .. d.id
  local groupMs = d.groupMs or 0
  local due = string.format('%d', tonumber(createdAt) + groupMs)
  redis.call('HSET', d.entryKey, 'id', d.id, 'receiver', d.receiver, 'kind', d.kind, 'groupMs', d.groupMs and string.format('%d', groupMs) or '',
    'alertId', alertId, 'createdAt', createdAt, 'status', 'pending', 'attempts', '0', 'due', due, 'held', '0',
    'member', member, 'dueKey', d.dueKey, 'groupKey', d.groupKey, 'event', eventJson)
  redis.call('ZADD', d.dueKey, due, member)
  if d.groupMs then redis.call('ZADD', d.groupKey, n, member) end
  redis.call('SADD', outboxReceivers, d.receiver)
  redis.call('ZADD', outboxOrder, n, d.id)
  redis.call('ZADD', outboxPending, createdAt, d.id)
  written = written + 1
end
return written
