-- stats: a read-only snapshot of one queue for `genq stats` / `genq
-- queues`. ARGV: prefix, window_ms (rates), max_entries (events read for
-- the completion rate), max_samples (recent succeeded jobs for latency).
-- Rates: enqueues from the per-second buckets enqueue.lua keeps in
-- PREFIX.."rate"; completions from the events stream (entry ids are ms
-- timestamps; one entry per batch with fields id state id state ...); when
-- more than max_entries entries fall in the window, the rate is taken over
-- the span they cover. Latency: latency_ms of the result documents of the
-- newest max_samples succeeded jobs in the stream (nearest-rank p50/p95).
-- Returns {now_ms, paused_since_ms (0 = running), ready_high, ready,
-- ready_low, active, delayed, dead, counters {name, value, ...},
-- enqueued_in_window, succeeded_in_span, dead_in_span, canceled_in_span,
-- span_ms, oldest_ready_enqueued_ms (-1 = none), p50_ms, p95_ms (-1 =
-- none), samples, inbox (entries waiting for intake), rejected (inbox
-- entries the intake rejected)}.
local win, maxent = tonumber(ARGV[2]), tonumber(ARGV[3])
local maxs = tonumber(ARGV[4])
local now = now_ms()
local paused = redis.call('GET', K_PAUSED)
local out = {now, paused and (tonumber(paused) or 1) or 0}
for p = 1, 3 do out[#out + 1] = redis.call('LLEN', K_READY[p]) end
out[#out + 1] = math.max(redis.call('ZCARD', K_LEASES) - 1, 0) -- LEASE_PIN
out[#out + 1] = redis.call('ZCARD', K_DELAYED)
out[#out + 1] = redis.call('ZCARD', K_DEAD)
out[#out + 1] = redis.call('HGETALL', K_STATS)

-- enqueues: buckets of the last win/1000 seconds, this one included
local sec = math.floor(now / 1000)
local from = sec - math.floor(win / 1000) + 1
local rate = redis.call('HGETALL', K_RATE)
local enq = 0
for i = 1, #rate, 2 do
    if (tonumber(rate[i]) or 0) >= from then
        enq = enq + (tonumber(rate[i + 1]) or 0)
    end
end
out[#out + 1] = enq

-- completions: events of the window, newest first, at most maxent entries
local evs = redis.call('XREVRANGE', K_EVENTS, '+', now - win, 'COUNT', maxent)
local n = {succeeded = 0, dead = 0, canceled = 0}
for _, e in ipairs(evs) do
    local f = e[2]
    for i = 2, #f, 2 do
        if n[f[i]] then n[f[i]] = n[f[i]] + 1 end
    end
end
local span = win
if #evs >= maxent then
    span = now - tonumber(string.match(evs[#evs][1], '^(%d+)'))
    if span < 1000 then span = 1000 end
end
out[#out + 1] = n.succeeded
out[#out + 1] = n.dead
out[#out + 1] = n.canceled
out[#out + 1] = span

-- the oldest job at the claim end of each ready list
local oldest = -1
for p = 1, 3 do
    local id = redis.call('LINDEX', K_READY[p], -1)
    if id then
        local m = meta_unpack(metas_get({id})[1])
        local enq_ms = m and tonumber(m.enq)
        if enq_ms and (oldest < 0 or enq_ms < oldest) then oldest = enq_ms end
    end
end
out[#out + 1] = oldest

-- latency of recent succeeded jobs
local ids = {}
local recent = redis.call('XREVRANGE', K_EVENTS, '+', '-', 'COUNT', 100)
for _, e in ipairs(recent) do
    local f = e[2]
    for i = #f, 2, -2 do
        if #ids < maxs and f[i] == 'succeeded' then ids[#ids + 1] = f[i - 1] end
    end
    if #ids >= maxs then break end
end
local lat = {}
if #ids > 0 then
    local docs = redis.call('HMGET', K_RESULTS, unpack(ids))
    for _, d in ipairs(docs) do
        if d then
            local v = string.match(d, '[,{]"latency_ms":(%d+)')
            if v then lat[#lat + 1] = tonumber(v) end
        end
    end
end
table.sort(lat)
if #lat > 0 then
    out[#out + 1] = lat[math.max(1, math.ceil(#lat * 0.5))]
    out[#out + 1] = lat[math.max(1, math.ceil(#lat * 0.95))]
else
    out[#out + 1] = -1
    out[#out + 1] = -1
end
out[#out + 1] = #lat
out[#out + 1] = redis.call('LLEN', K_INBOX)
out[#out + 1] = redis.call('LLEN', K_REJECTED)
return out
