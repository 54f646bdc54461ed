-- maintain: periodic housekeeping any worker runs (every few seconds) and
-- `genq` may run: reap expired leases, promote due delayed jobs, and drop
-- succeeded jobs whose result retention has passed. ARGV: prefix, [grace_ms].
-- Returns {reaped, promoted, swept, ms_until_next_delayed (-1 = none)}.
local now = now_ms()
-- ARGV[2] (optional): the caller's visibility timeout in ms, the reaper's
-- grace after a Redis restart (workers pass theirs; absent = none)
local reaped = reap(now, 1000, tonumber(ARGV[2] or '0'))
local promoted = promote(now, 1000)
if promoted > 0 then redis.call('PUBLISH', PREFIX .. 'wake', promoted) end
local old = redis.call('ZRANGEBYSCORE', K_DONE, '-inf', now, 'LIMIT', 0, 1000)
if #old > 0 then
    local payloads = payloads_get(old)
    for i, id in ipairs(old) do idem_forget(id, payloads[i]) end
    redis.call('HDEL', K_PROGRESS, unpack(old))
    redis.call('ZREM', K_DONE, unpack(old))
    redis.call('HDEL', K_RESULTS, unpack(old))
    redis.call('HDEL', K_JOBS, unpack(old))
    redis.call('HDEL', K_META, unpack(old))
    redis.call('HDEL', K_ERRORS, unpack(old))
    redis.call('HDEL', K_HISTORY, unpack(old))
end
-- the enqueue-rate buckets of `genq stats`: keep the last ~70 s
local rk = PREFIX .. 'rate'
if redis.call('HLEN', rk) > 90 then
    local sec, drop = math.floor(now / 1000), {}
    for _, f in ipairs(redis.call('HKEYS', rk)) do
        if (tonumber(f) or 0) < sec - 70 then drop[#drop + 1] = f end
    end
    if #drop > 0 then redis.call('HDEL', rk, unpack(drop)) end
end
local nxt = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
local wait = -1
if #nxt > 0 then
    wait = tonumber(nxt[2]) - now
    if wait < 0 then wait = 0 end
end
return {reaped, promoted, #old, wait}
