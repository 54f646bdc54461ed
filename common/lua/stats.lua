-- stats: a read-only snapshot of one queue for `genq stats` / `genq
-- queues`, at a fixed cost whatever the throughput, the backlog and the
-- results retained: nothing here scans jobs or events. ARGV: prefix,
-- window_ms (rates), max_entries (unused, kept for the callers of the
-- first version), max_samples (latency samples read, at most LAT_SAMPLES).
-- Rates: enqueues from the per-second buckets every enqueue path keeps in
-- PREFIX.."rate"; completions from the per-second tallies the scripts that
-- end jobs keep in K_TALLY (prelude.lua events_add), the buckets of the
-- last window_ms/1000 seconds, this one included. Latency: the latency_ms
-- of the newest max_samples succeeded jobs, kept by complete.lua in K_LAT
-- (nearest-rank p50/p95; an element holds one job's or one call's).
-- Returns {now_ms, paused_since_ms (0 = running), ready_high, ready,
-- ready_low, active, delayed, dead, counters {name, value, ...},
-- enqueued_in_window, succeeded_in_span, dead_in_span, canceled_in_span,
-- span_ms (= window_ms), oldest_ready_enqueued_ms (-1 = none), p50_ms,
-- p95_ms (-1 = none), samples, inbox (entries waiting for intake),
-- rejected (inbox entries the intake rejected)}.
local win = tonumber(ARGV[2])
local maxs = tonumber(ARGV[4])
local now = now_ms()
local paused = redis.call('GET', K_PAUSED)
local out = {now, paused and (tonumber(paused) or 1) or 0}
for p = 1, 3 do out[#out + 1] = redis.call('LLEN', K_READY[p]) end
out[#out + 1] = math.max(redis.call('ZCARD', K_LEASES) - 1, 0) -- LEASE_PIN
out[#out + 1] = redis.call('ZCARD', K_DELAYED)
out[#out + 1] = redis.call('ZCARD', K_DEAD)
out[#out + 1] = redis.call('HGETALL', K_STATS)

-- enqueues and completions: the buckets of the last win/1000 seconds,
-- this one included (HMGET of named fields: bounded even if no maintain
-- ran to prune them)
local sec = math.floor(now / 1000)
local nsec = math.max(1, math.floor(win / 1000))
local function bucket_sum(key, pre)
    local f = {}
    for i = 1, nsec do f[i] = pre .. (sec - nsec + i) end
    local v, sum = redis.call('HMGET', key, unpack(f)), 0
    for i = 1, nsec do sum = sum + (tonumber(v[i]) or 0) end
    return sum
end
out[#out + 1] = bucket_sum(K_RATE, '')
out[#out + 1] = bucket_sum(K_TALLY, 's:')
out[#out + 1] = bucket_sum(K_TALLY, 'd:')
out[#out + 1] = bucket_sum(K_TALLY, 'c:')
out[#out + 1] = win

-- the oldest job at the claim end of each ready list
local oldest = -1
for p = 1, 3 do
    local e = redis.call('LINDEX', K_READY[p], -1)
    if e then
        -- an id, or an inline job: its header is its meta (transitions.lua)
        local m = meta_unpack(job_header(e) or metas_get({e})[1])
        local enq_ms = m and tonumber(m.enq)
        if enq_ms and (oldest < 0 or enq_ms < oldest) then oldest = enq_ms end
    end
end
out[#out + 1] = oldest

-- latency of recent succeeded jobs: K_LAT's elements, newest first, are
-- one job's latency_ms or a completion call's, joined by ',' in the order
-- they completed (complete.lua): the newest max_samples of them, read 16
-- elements at a time
local want, lat, nl, from = math.min(maxs, LAT_SAMPLES), {}, 0, 0
while nl < want do
    local els = redis.call('LRANGE', K_LAT, from, from + 15)
    for e = 1, #els do
        local vals, nv = {}, 0
        for v in string.gmatch(els[e], '[^,]+') do nv = nv + 1; vals[nv] = v end
        for j = nv, math.max(1, nv - (want - nl) + 1), -1 do
            nl = nl + 1; lat[nl] = tonumber(vals[j]) or 0
        end
        if nl >= want then break end
    end
    if #els < 16 then break end
    from = from + 16
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
