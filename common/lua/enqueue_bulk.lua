-- enqueue_bulk: the fast path of `genq enqueue` for a batch of new jobs that
-- all have ids the client just generated (UUIDv7: cannot collide), no
-- idempotency key, no delay, and the same priority and max_attempts.
-- ARGV: prefix, prio (0..2), max_attempts (0 = worker default), then per
-- job id, payload. No meta field is written: each stored value is the meta
-- record, a newline and the payload (job_split); the first claim or change
-- writes the meta field. One HSET and one LPUSH for the whole batch.
-- Returns the number of jobs enqueued.
local prio = tonumber(ARGV[2])
local now = now_ms()
local now_s = string.format('%d', now)
local hdr = 'queued|0|' .. ARGV[3] .. '|' .. ARGV[2] .. '|||' .. now_s ..
    '|' .. now_s .. '|\n'
local jobs, ids = {}, {}
local n = 0
for i = 4, #ARGV - 1, 2 do
    n = n + 1
    ids[n] = ARGV[i]
    jobs[2 * n - 1] = ARGV[i]
    jobs[2 * n] = hdr .. ARGV[i + 1]
end
if n == 0 then return 0 end
redis.call('HSET', K_JOBS, unpack(jobs))
redis.call('LPUSH', K_READY[prio + 1], unpack(ids))
redis.call('HINCRBY', K_STATS, 'enqueued', n)
rate_add(now, n)
redis.call('PUBLISH', PREFIX .. 'wake', n)
return n
