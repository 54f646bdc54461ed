-- intake: one round of the inbox intake (worker/intake.c). The worker read
-- the inbox's last N entries (LRANGE inbox -N -1), validated each in C as
-- `genq enqueue` does, and sends the valid ones as jobs and the others as
-- rejection documents. Atomically: check the intake lock's token (fencing:
-- a worker that lost the lock changes nothing) and renew its lease, check
-- the inbox still ends with the N entries read (only the lock holder trims,
-- producers only LPUSH at the head), enqueue the jobs as enqueue.lua does
-- (oplib.lua enqueue_jobs), LPUSH the rejections, and LTRIM the N entries
-- off the tail. So an entry is still in the inbox, or admitted, or
-- rejected. N = 0 only renews the lock.
-- ARGV: prefix, token, lease_ms, N, idem_ttl_s, n, then per job the 7
-- arguments of enqueue.lua, then its notify section, then the oldest entry
-- read (the inbox's tail), then r and r rejection documents, oldest first.
-- Returns {enqueued, duplicates, rejected, N}, or an error reply "LOCK ..."
-- (the lock is not ours) or "INBOX ..." (the inbox's tail moved: nothing
-- done, the next round reads again).
local nread, n = tonumber(ARGV[4]), tonumber(ARGV[6])
if redis.call('GET', K_INBOX_LOCK) ~= ARGV[2] then
    return redis.error_reply('LOCK intake lock lost')
end
redis.call('PEXPIRE', K_INBOX_LOCK, ARGV[3])
if nread == 0 then return {0, 0, 0, 0} end
local notify, b = notify_args(ARGV, 7 + n * 7)
if redis.call('LINDEX', K_INBOX, -1) ~= ARGV[b] or
    redis.call('LLEN', K_INBOX) < nread then
    return redis.error_reply('INBOX the inbox tail changed since it was read')
end
local _, added = enqueue_jobs(ARGV, 7, n, tonumber(ARGV[5]), notify)
local r = tonumber(ARGV[b + 1])
if r > 0 then
    redis.call('LPUSH', K_REJECTED, unpack(ARGV, b + 2, b + 1 + r))
end
redis.call('LTRIM', K_INBOX, 0, -(nread + 1))
if added > 0 then redis.call('HINCRBY', K_STATS, 'intake_admitted', added) end
if n > added then
    redis.call('HINCRBY', K_STATS, 'intake_duplicates', n - added)
end
if r > 0 then redis.call('HINCRBY', K_STATS, 'intake_rejected', r) end
return {added, n - added, r, nread}
