-- anomaly: a limit key's token spend per minute in Redis buckets, and
-- whether the last window's spend is over a multiple of its trailing
-- average (worker/anomaly.c). On Redis's clock (TIME).
-- KEYS (not a queue's key): 1 buckets hash (minute ->
-- tokens), 2 alert marker (the one alert per key per ARGV[7] seconds).
-- ARGV: 1 unused (the prelude's prefix slot: "-"), 2 tokens to add now,
-- 3 multiple, 4 window
-- minutes (10), 5 history minutes (1440), 6 least history minutes before
-- any verdict, 7 alert marker ttl s.
-- Returns {window spend, trailing average per window or "-1" (not enough
-- history), 1 when this call raised the fleet's alert else 0}.
local now = math.floor(tonumber(redis.call('TIME')[1]) / 60)
local add, mult = tonumber(ARGV[2]), tonumber(ARGV[3])
local win, hist, minh = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if add > 0 then redis.call('HINCRBY', KEYS[1], tostring(now), add) end
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then return {'0', '-1', 0} end
redis.call('EXPIRE', KEYS[1], hist * 60 + 3600)
local recent, older, oldest, drop = 0, 0, nil, {}
for i = 1, #all, 2 do
    local m, v = tonumber(all[i]), tonumber(all[i + 1])
    if m <= now - hist then
        drop[#drop + 1] = all[i]
    elseif m > now - win then
        recent = recent + v
    else
        older = older + v
        if not oldest or m < oldest then oldest = m end
    end
end
if #drop > 0 then redis.call('HDEL', KEYS[1], unpack(drop)) end
if not oldest then return {tostring(recent), '-1', 0} end
local span = (now - win) - oldest + 1
if span < minh then return {tostring(recent), '-1', 0} end
local avg = older * win / span
local first = 0
if avg > 0 and recent > mult * avg and
    redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[7])) then
    first = 1
end
return {tostring(recent), tostring(avg), first}
