-- pause: `genq pause` / `genq resume`. ARGV: prefix, "1" to pause, "0" to
-- resume. Paused, the claim script answers "paused" and workers retry
-- within a second; resuming publishes the wake channel so idle workers
-- claim at once. Returns {changed (1/0), paused_since_ms (0 = not paused)}.
local now = now_ms()
if ARGV[2] == '1' then
    local was = redis.call('GET', K_PAUSED)
    if was then return {0, tonumber(was) or 0} end
    redis.call('SET', K_PAUSED, now)
    return {1, now}
end
local n = redis.call('DEL', K_PAUSED)
if n == 1 then
    local ready = redis.call('LLEN', K_READY[1]) + redis.call('LLEN', K_READY[2])
        + redis.call('LLEN', K_READY[3])
    if ready > 0 then wake(ready) end
end
return {n, 0}
