-- batch_done: close a batch whose members are all settled (their
-- outcomes went through complete.lua / fail.lua under the members' lease
-- tokens, so settling twice changes nothing). ARGV: prefix, token, lease
-- token, keep_ms, then field/value pairs (state, counts, cost). The record
-- is kept keep_ms for `genq batches`; the members go. Returns 1, or 0
-- when the caller no longer holds the batch (another worker closed it).
local tok, ltok, keep = ARGV[2], ARGV[3], tonumber(ARGV[4])
local rkey = PREFIX .. 'batch:' .. tok
if redis.call('HGET', rkey, 'ltok') ~= ltok or
    redis.call('ZREM', PREFIX .. 'batches', tok) == 0 then
    return 0
end
local now = now_ms()
local f = {'settled_ms', now, 'ltok', '', 'owner', ''}
for i = 5, #ARGV do f[#f + 1] = ARGV[i] end
redis.call('HSET', rkey, unpack(f))
redis.call('PEXPIRE', rkey, keep)
redis.call('DEL', rkey .. ':m')
local n = tonumber(redis.call('HGET', rkey, 'n') or '0')
redis.call('HINCRBY', K_STATS, 'batch_open_jobs', -n)
redis.call('ZREMRANGEBYSCORE', PREFIX .. 'batchlog', '-inf', now - keep)
return 1
