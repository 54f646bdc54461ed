-- enqueue: a batch of jobs. ARGV: prefix, idem_ttl_s, n, then per job
-- id, prio, run_at_ms (0 = now; absolute), delay_ms, max_attempts (0 =
-- worker default), idempotency_key ("" = none), payload; then, optional,
-- the notify section: m, then m pairs (job index 1..n, its feed echo).
-- Returns per job {status, id}: status "enqueued" or "duplicate" (the id is
-- then the existing job's: same id already known, or same idempotency key
-- within its TTL). The work is oplib.lua's enqueue_jobs().
-- The lean form, for jobs with ids and nothing else but a priority shared
-- by the call (enqueue-tool/enqueue_lean.c): ARGV prefix, idem_ttl_s
-- (unused), "L", n, prio, then per job id and the value to store (the meta
-- header "queued|0|MAX|PRIO|||T|T|", a newline, the payload: what the
-- bulk path stores). Returns per job 1 (enqueued) or 0 (duplicate: same
-- id). oplib.lua's enqueue_lean().
if ARGV[3] == 'L' then
    local n = tonumber(ARGV[4])
    if not n or #ARGV ~= 5 + 2 * n then
        return redis.error_reply('ERR enqueue: lean form: ' .. #ARGV ..
                                 ' arguments for ' .. tostring(ARGV[4]) .. ' jobs')
    end
    return enqueue_lean(ARGV, 6, n, ARGV[5])
end
local n = tonumber(ARGV[3])
local notify = notify_args(ARGV, 4 + n * 7)
local out = enqueue_jobs(ARGV, 4, n, tonumber(ARGV[2]), notify)
return out
