-- enqueue: a batch of jobs. ARGV: prefix, idem_ttl_s, n, then per job
-- id, prio, run_at_ms (0 = now; absolute), delay_ms, max_attempts (0 =
-- worker default), idempotency_key ("" = none), payload; then, optional,
-- the notify section: m, then m pairs (job index 1..n, its feed echo).
-- Returns per job {status, id}: status "enqueued" or "duplicate" (the id is
-- then the existing job's: same id already known, or same idempotency key
-- within its TTL). The work is oplib.lua's enqueue_jobs().
-- The lean form, for jobs with ids and nothing else but a priority and
-- max_attempts shared by the call: ARGV prefix, idem_ttl_s (unused), "L",
-- n, prio, max_attempts, then per job id, payload. Returns per job 1
-- (enqueued) or 0 (duplicate: same id). oplib.lua's enqueue_lean().
if ARGV[3] == 'L' then
    local n = tonumber(ARGV[4])
    if not n or #ARGV ~= 6 + 2 * n then
        return redis.error_reply('ERR enqueue: lean form: ' .. #ARGV ..
                                 ' arguments for ' .. tostring(ARGV[4]) .. ' jobs')
    end
    return enqueue_lean(ARGV, 7, n, ARGV[5], ARGV[6])
end
local n = tonumber(ARGV[3])
local notify = notify_args(ARGV, 4 + n * 7)
local out = enqueue_jobs(ARGV, 4, n, tonumber(ARGV[2]), notify)
return out
