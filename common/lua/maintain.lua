-- maintain: periodic housekeeping any worker runs (every few seconds) and
-- `genq` may run: reap expired leases, promote due delayed jobs, and drop
-- succeeded jobs whose result retention has passed. ARGV: prefix.
-- Returns {reaped, promoted, swept, ms_until_next_delayed (-1 = none)}.
local now = now_ms()
local reaped = reap(now, 1000)
local promoted = promote(now, 1000)
if promoted > 0 then redis.call('PUBLISH', PREFIX .. 'wake', promoted) end
local old = redis.call('ZRANGEBYSCORE', K_DONE, '-inf', now, 'LIMIT', 0, 1000)
if #old > 0 then
    redis.call('ZREM', K_DONE, unpack(old))
    redis.call('HDEL', K_RESULTS, unpack(old))
    redis.call('HDEL', K_JOBS, unpack(old))
    redis.call('HDEL', K_META, unpack(old))
    redis.call('HDEL', K_ERRORS, unpack(old))
    redis.call('HDEL', K_HISTORY, unpack(old))
end
local nxt = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
local wait = -1
if #nxt > 0 then
    wait = tonumber(nxt[2]) - now
    if wait < 0 then wait = 0 end
end
return {reaped, promoted, #old, wait}
