-- enqueue: a batch of jobs. ARGV: prefix, idem_ttl_s, n, then per job
-- id, prio, run_at_ms (0 = now; absolute), delay_ms, max_attempts (0 =
-- worker default), idempotency_key ("" = none), payload.
-- Returns per job {status, id}: status "enqueued" or "duplicate" (the id is
-- then the existing job's: same id already known, or same idempotency key
-- within its TTL).
local ttl = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = now_ms()
local ids = {}
for i = 1, n do ids[i] = ARGV[4 + (i - 1) * 7] end
local existing = metas_get(ids)
local seen = {}
local out = {}
local jobs, metas, delayed = {}, {}, {}
local lists = {{}, {}, {}}
local added = 0
for i = 1, n do
    local b = 4 + (i - 1) * 7
    local id, prio = ARGV[b], tonumber(ARGV[b + 1])
    local run_at, delay = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    local maxa, idem, payload = ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
    local dup = nil
    if existing[i] or seen[id] then
        dup = id
    elseif idem ~= '' then
        local ik = idem_key(idem)
        if not redis.call('SET', ik, id, 'NX', 'EX', ttl) then
            dup = redis.call('GET', ik) or id
        end
    end
    if dup then
        out[#out + 1] = {'duplicate', dup}
    else
        seen[id] = true
        added = added + 1
        local at = 0
        if run_at > 0 then at = run_at elseif delay > 0 then at = now + delay end
        local state = 'queued'
        if at > now then state = 'delayed' end
        jobs[#jobs + 1] = id; jobs[#jobs + 1] = payload
        metas[#metas + 1] = id
        metas[#metas + 1] = meta_record(state, 0, maxa, prio, '', '', now,
                                        now, '')
        if state == 'delayed' then
            delayed[#delayed + 1] = at; delayed[#delayed + 1] = id
        else
            local l = lists[prio + 1]
            l[#l + 1] = id
        end
        out[#out + 1] = {'enqueued', id}
    end
end
if added > 0 then
    redis.call('HSET', K_JOBS, unpack(jobs))
    redis.call('HSET', K_META, unpack(metas))
    if #delayed > 0 then redis.call('ZADD', K_DELAYED, unpack(delayed)) end
    local ready = 0
    for p = 1, 3 do
        if #lists[p] > 0 then
            redis.call('LPUSH', K_READY[p], unpack(lists[p]))
            ready = ready + #lists[p]
        end
    end
    redis.call('HINCRBY', K_STATS, 'enqueued', added)
    rate_add(now, added)
    if ready > 0 then redis.call('PUBLISH', K_WAKE, ready) end
end
return out
