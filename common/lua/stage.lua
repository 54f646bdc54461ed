-- stage: finish the staging of one `genq enqueue` run (enqueue-tool/
-- enqueue_stage.c, "staging"). While pass 1 validated the file, the run
-- pushed its bulk jobs, inline (transitions.lua: "@ID|" header, newline,
-- payload; nothing in the jobs hash), onto its stage lists
-- PREFIX..'stage:'..RUN..':'..P (P: 0 high, 1 normal, 2 low; LPUSH in
-- input order), invisible to everyone: no ready list holds them, no
-- counter counts them, nobody knows their ids.
-- PREFIX..'staging' maps each staging run to the ms of its last batch.
-- ARGV: prefix, mode ('commit' | 'drop'), run, budget (ids per call),
-- [expected: the ids the run staged; commit checks it on its first call].
-- commit: make the staged jobs ready in input order, after what is ready
--   already: a stage list whose ready list is empty becomes it (RENAME,
--   O(1)), else up to budget jobs move over, oldest first; counts them
--   (stats enqueued, rate) and wakes the workers. A run the maintenance
--   sweep has dropped (idle for over an hour) is an error: GONE.
-- drop: delete up to budget staged jobs.
-- Returns {done, left}: jobs this call handled, jobs still staged. The
-- run's registration goes with its last job.
local sk = K_STAGING
local mode, run, budget = ARGV[2], ARGV[3], tonumber(ARGV[4])
local at = redis.call('HGET', sk, run)
if mode == 'commit' and (not at or at == 'gone') then
    return redis.error_reply('GONE the staged jobs of this run were removed ' ..
        '(it was idle for over an hour): none of them is enqueued')
end
if mode == 'commit' and ARGV[5] then
    -- all or nothing: a sweep that took some (the run stalled past the GC
    -- age, then went on) leaves fewer than the run staged
    local n = 0
    for p = 0, 2 do
        n = n + redis.call('LLEN', stage_key(run, p))
    end
    if n ~= tonumber(ARGV[5]) then
        return redis.error_reply('GONE ' .. (tonumber(ARGV[5]) - n) ..
            ' of the staged jobs of this run were removed (it was silent ' ..
            'for over an hour): none of them is enqueued')
    end
end
local done, left = 0, 0
for p = 0, 2 do
    local lk = stage_key(run, p)
    local n = redis.call('LLEN', lk)
    if n > 0 and mode == 'commit' and
        redis.call('EXISTS', K_READY[p + 1]) == 0 then
        redis.call('RENAME', lk, K_READY[p + 1])
        done, n = done + n, 0
    elseif n > 0 and budget > done then
        local k = math.min(n, budget - done)
        -- the oldest k, at the right end: newest first
        if mode == 'commit' then
            local ids = redis.call('LRANGE', lk, -k, -1)
            for c = #ids, 1, -1000 do
                local chunk = {}
                for i = c, math.max(c - 999, 1), -1 do
                    chunk[#chunk + 1] = ids[i]
                end
                redis.call('LPUSH', K_READY[p + 1], unpack(chunk))
            end
        end
        redis.call('LTRIM', lk, 0, -k - 1)
        done, n = done + k, n - k
    end
    left = left + n
end
if mode == 'commit' and done > 0 then
    redis.call('HINCRBY', K_STATS, 'enqueued', done)
    rate_add(now_ms(), done)
    wake(done)
end
if left == 0 then redis.call('HDEL', sk, run) end
return {done, left}
