/**
 * The Lua steps of the Redis backend. Each runs atomically in Redis, so every
 * instance sees one history and one channel order.
 */

/**
 * Appends an event and publishes it in one atomic step, so that the order of
 * the channel is the order of the history on every instance.
 *
 * KEYS: seq, history of the event's stream, ids (id → seq), seqs (seq → id).
 * ARGV: id, event JSON, history size, channel.
 * The counter starts from the server's clock in microseconds whenever it is
 * missing (first use, or a Redis that lost its data): sequence numbers then
 * never go backwards, which lets an instance tell "already delivered" from
 * "new" across a Redis restart. string.format('%d') keeps them exact in the
 * message (Lua's own number-to-string conversion keeps 14 digits only).
 * Evicted members are found by score in the ids hash's reverse, never by
 * decoding the stored JSON, so no stored text can make this step fail.
 */
const APPEND_STEP = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq)
redis.call('HSET', KEYS[4], seq, ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local olds = redis.call('ZRANGE', KEYS[2], 0, excess - 1, 'WITHSCORES')
  for i = 2, #olds, 2 do
    local oldSeq = olds[i]
    local oldId = redis.call('HGET', KEYS[4], oldSeq)
    if oldId then redis.call('HDEL', KEYS[3], oldId) end
    redis.call('HDEL', KEYS[4], oldSeq)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
redis.call('PUBLISH', ARGV[4], '{"seq":' .. string.format('%d', seq) .. ',"event":' .. ARGV[2] .. '}')
`
export const APPEND_LUA = APPEND_STEP + 'return seq\n'

/**
 * APPEND_LUA at most once per idempotency key: checking the key, appending and
 * remembering the key happen in one atomic step, so concurrent retries on any
 * instance store and publish one event.
 *
 * KEYS: those of APPEND_LUA, then the idempotency key.
 * ARGV: those of APPEND_LUA, then the key's ttl in milliseconds.
 * Returns the sequence number (a number) when the event was appended, or the
 * JSON of the event first stored under the key (a string) when it was not.
 */
export const APPEND_ONCE_LUA = `
local prior = redis.call('GET', KEYS[5])
if prior then return prior end
` + APPEND_STEP + `
redis.call('SET', KEYS[5], ARGV[2], 'PX', ARGV[5])
return seq
`

/**
 * Reads, in one consistent snapshot, the retained events of both streams after
 * a point, merged in sequence order.
 *
 * KEYS: seq, history:alert, history:chat, ids.
 * ARGV[1]: 'all' (every retained event), 'id' (after the event whose id is
 * ARGV[2]) or 'seq' (after sequence number ARGV[2]).
 * Returns {found, newest, seq1, json1, seq2, json2, ...}: found is 0 when the
 * id is not retained (everything is returned then); newest is the counter.
 * Sequence numbers travel as strings, exactly as Redis stored them.
 */
export const RANGE_LUA = `
local newest = redis.call('GET', KEYS[1]) or '0'
local after = '-inf'
local found = 1
if ARGV[1] == 'id' then
  local seq = redis.call('HGET', KEYS[4], ARGV[2])
  if seq then after = '(' .. seq else found = 0 end
elseif ARGV[1] == 'seq' then
  after = '(' .. ARGV[2]
end
local a = redis.call('ZRANGEBYSCORE', KEYS[2], after, '+inf', 'WITHSCORES')
local c = redis.call('ZRANGEBYSCORE', KEYS[3], after, '+inf', 'WITHSCORES')
local out = {found, newest}
local i, j = 1, 1
while i <= #a or j <= #c do
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
`
