-- enqueue: a batch of jobs. ARGV: prefix, idem_ttl_s, n, then per job
-- id, prio, run_at_ms (0 = now; absolute), delay_ms, max_attempts (0 =
-- worker default), idempotency_key ("" = none), payload; then, optional,
-- the notify section: m, then m pairs (job index 1..n, its feed echo).
-- Returns per job {status, id}: status "enqueued" or "duplicate" (the id is
-- then the existing job's: same id already known, or same idempotency key
-- within its TTL). The work is oplib.lua's enqueue_jobs().
local n = tonumber(ARGV[3])
local notify = notify_args(ARGV, 4 + n * 7)
local out = enqueue_jobs(ARGV, 4, n, tonumber(ARGV[2]), notify)
return out
