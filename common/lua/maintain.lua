-- maintain: periodic housekeeping any worker runs (every few seconds) and
-- `genq` may run: reap expired leases, promote due delayed jobs, and drop
-- succeeded jobs whose result retention has passed. ARGV: prefix, [grace_ms,
-- [feed_maxlen]]. Returns {reaped, promoted, swept (jobs), ms_until_next_delayed
-- (-1 = none)}.
local now = now_ms()
-- ARGV[2] (optional): the caller's visibility timeout in ms, the reaper's
-- grace after a Redis restart (workers pass theirs; absent = none);
-- ARGV[3] (optional): the feed's bound (worker --feed-maxlen; absent:
-- FEED_MAXLEN_DEFAULT)
local reaped = reap(now, 1000, tonumber(ARGV[2] or '0'), tonumber(ARGV[3]))
local promoted = promote(now, 1000)
if promoted > 0 then wake(promoted) end
-- Retention: the done set's members whose time has come (a member is the
-- ids of a batch, prelude.lua DONE_SEP), whole members until ~1,000 ids a
-- call (oplib.lua done_take), read by offset
local off = 0
local old, gone = done_take(function(want)
    local mem = redis.call('ZRANGEBYSCORE', K_DONE, '-inf', now, 'LIMIT',
                           off, want)
    off = off + want
    return mem
end, 1000)
if #gone > 0 then
    redis.call('ZREM', K_DONE, unpack(gone))
    if #old > 0 then
        local payloads = payloads_get(old)
        for i, id in ipairs(old) do idem_forget(id, payloads[i]) end
        jobs_delete(old)
    end
end
-- Staged jobs of a `genq enqueue` run that died before finishing them
-- (stage.lua): once the run has sent nothing for STAGE_GC_MS, its
-- registration goes first (so a late commit fails as GONE instead of making
-- half of them ready), then its stage lists, 1,000 jobs per call (inline
-- jobs: nothing in the jobs hash).
local sk = K_STAGING
local runs = redis.call('HGETALL', sk)
local budget = 1000
for i = 1, #runs, 2 do
    local run, at = runs[i], runs[i + 1]
    if at ~= 'gone' and (tonumber(at) or 0) < now - STAGE_GC_MS then
        redis.call('HSET', sk, run, 'gone')
        at = 'gone'
    end
    if at == 'gone' and budget > 0 then
        local left = 0
        for p = 0, 2 do
            local lk = stage_key(run, p)
            -- inline jobs (stage.lua): nothing else to delete
            local k = math.min(budget, redis.call('LLEN', lk))
            if k > 0 then
                budget = budget - k
                redis.call('LTRIM', lk, k, -1)
            end
            left = left + redis.call('LLEN', lk)
        end
        if left == 0 then redis.call('HDEL', sk, run) end
    end
end
-- the per-second buckets of `genq stats` (enqueue rate: "SEC"; tallies:
-- "s:SEC", "d:SEC", "c:SEC"): keep the last ~70 s once a hash holds more
-- than max fields
local function buckets_prune(key, max)
    if redis.call('HLEN', key) <= max then return end
    local sec, drop = math.floor(now / 1000), {}
    for _, f in ipairs(redis.call('HKEYS', key)) do
        if (tonumber(string.match(f, '%d+$')) or 0) < sec - 70 then
            drop[#drop + 1] = f
        end
    end
    if #drop > 0 then redis.call('HDEL', key, unpack(drop)) end
end
buckets_prune(K_RATE, 90)
buckets_prune(K_TALLY, 240)
local nxt = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
local wait = -1
if #nxt > 0 then
    wait = tonumber(nxt[2]) - now
    if wait < 0 then wait = 0 end
end
return {reaped, promoted, #old, wait}
