-- Writes outbox entries about an event that is not being appended now (an
-- alert still open when its silence ended, a reminder); append.lua writes
-- those of the event it appends, with the same included function.
-- Returns the number of entries written.

local outboxSeq = KEYS[1]       -- counter: the write order of entries
local outboxReceivers = KEYS[2] -- set: receivers with pending entries
local outboxOrder = KEYS[3]     -- zset: entry id by write order
local outboxPending = KEYS[4]   -- zset: pending entry id by when written

local eventJson = ARGV[1]
local alertId = ARGV[2]
local drafts = ARGV[3]          -- JSON: [{id, receiver, kind, groupMs?, entryKey, dueKey, groupKey}]
local createdAt = ARGV[4]       -- ms since the epoch

-- include outbox-entries.lua

return writeOutboxEntries(drafts, eventJson, alertId, createdAt, outboxSeq, outboxReceivers, outboxOrder, outboxPending)
