-- batch_record: record a batch and its members BEFORE it is submitted
-- (README "Batch mode"), so that a worker killed between this and the
-- provider's reply leaves a record any worker can resolve: it looks the
-- batch up at the provider by the token and never submits twice.
-- ARGV: prefix, token, worker, lease_ms, member_ms, nfields, then nfields
-- field/value pairs of the record (provider, base, model, entries...), then
-- per member: job id, its lease token, custom_id, attempt. Only members
-- whose lease the caller still holds are recorded (fencing); the record
-- takes the batch's lease (state "submitting", due in lease_ms) and the
-- members' leases run to now + member_ms. Returns {n recorded, lease
-- token, stale id...}; {-1} when the token exists already.
local tok, worker = ARGV[2], ARGV[3]
local lease, mlease = tonumber(ARGV[4]), tonumber(ARGV[5])
local nf = tonumber(ARGV[6])
local rkey = PREFIX .. 'batch:' .. tok
local mkey = rkey .. ':m'
if redis.call('EXISTS', rkey) == 1 then return {-1} end
local now = now_ms()
local ltok = string.format('%d', redis.call('INCR', K_SEQ)) .. ':' .. now
local rec = {'state', 'submitting', 'owner', worker, 'ltok', ltok,
    'created_ms', now}
for i = 7, 6 + 2 * nf do rec[#rec + 1] = ARGV[i] end
local first = 7 + 2 * nf
local n, out = 0, {0, ltok}
local hcache = {} -- the held lists read (prelude.lua held_element)
for c = first, #ARGV, 4000 do
    local ids, args = {}, {}
    for i = c, math.min(c + 3999, #ARGV), 4 do ids[#ids + 1] = ARGV[i] end
    local metas = redis.call('HMGET', K_META, unpack(ids))
    local mset, lset = {}, {}
    for k, id in ipairs(ids) do
        local b = c + (k - 1) * 4
        local m = meta_unpack(metas[k])
        if m and m.state == 'active' and m.token == ARGV[b + 1] then
            -- a held claim's member (layout 5): its element into the jobs
            -- hash, where the batch's settlement reads it (worker/
            -- batch_review.c, batch_submit.c); it stays active, counted
            local seq = held_seq(m.token)
            if seq then held_move(id, seq, hcache) end
            mset[#mset + 1] = id
            mset[#mset + 1] = ARGV[b + 1] .. '|' .. ARGV[b + 2] .. '|' ..
                ARGV[b + 3]
            lset[#lset + 1] = now + mlease; lset[#lset + 1] = id
            n = n + 1
        else
            out[#out + 1] = id
        end
    end
    if #mset > 0 then
        redis.call('HSET', mkey, unpack(mset))
        redis.call('ZADD', K_LEASES, 'XX', unpack(lset))
    end
end
out[1] = n
if n == 0 then return out end
rec[#rec + 1] = 'n'; rec[#rec + 1] = n
redis.call('HSET', rkey, unpack(rec))
redis.call('ZADD', PREFIX .. 'batches', now + lease, tok)
redis.call('ZADD', PREFIX .. 'batchlog', now, tok)
redis.call('HINCRBY', K_STATS, 'batched', n)
redis.call('HINCRBY', K_STATS, 'batch_open_jobs', n)
return out
