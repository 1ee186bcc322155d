-- Included (not a script of its own): writes outbox entries about an event,
-- for append.lua (the entries of the event it appends, in its own step) and
-- outbox-write.lua (an event not being appended now). Returns how many.
local function writeOutboxEntries(drafts, eventJson, alertId, createdAt, outboxSeq, outboxReceivers, outboxOrder, outboxPending)
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
end
