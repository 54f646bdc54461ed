-- dlq_requeue: `genq dlq requeue`. ARGV: prefix, keep_attempts ("1" keeps
-- the attempt count, else it is reset to 0), then ids (at most ~1000).
-- Atomic per job: only jobs whose state is dead move — state queued, flags
-- cleared, out of the dead set, LPUSHed onto the ready list of their
-- priority (behind the jobs already waiting, like a new enqueue), one
-- history entry "dlq_requeued"; id, job, idempotency key, last error and
-- history are kept. Publishes the wake channel once.
-- Returns per id "requeued" or the job's state ("unknown" when absent).
local keep = ARGV[2] == '1'
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local now = now_ms()
local metas = metas_get(ids)
local hist = redis.call('HMGET', K_HISTORY, unpack(ids))
local out, mset, hset, moved, seen = {}, {}, {}, {}, {}
local lists = {{}, {}, {}}
local entry = '{"at":' .. now ..
    ',"worker":"","outcome":"dlq_requeued","error":null}'
for i, id in ipairs(ids) do
    local m = meta_unpack(metas[i])
    if seen[id] then
        out[i] = 'queued'
    elseif m and m.state == 'dead' then
        seen[id] = true
        if not keep then m.attempts = 0 end
        m.state = 'queued'; m.token = ''; m.upd = now; m.flags = ''
        mset[#mset + 1] = id; mset[#mset + 1] = meta_pack(m)
        local h = hist[i]
        if h then
            h = string.sub(h, 1, -2) .. ',' .. entry .. ']'
        else
            h = '[' .. entry .. ']'
        end
        hset[#hset + 1] = id; hset[#hset + 1] = h
        moved[#moved + 1] = id
        local l = lists[m.prio + 1]
        l[#l + 1] = id
        out[i] = 'requeued'
    else
        out[i] = m and m.state or 'unknown'
    end
end
if #moved > 0 then
    redis.call('HSET', K_META, unpack(mset))
    redis.call('HSET', K_HISTORY, unpack(hset))
    redis.call('ZREM', K_DEAD, unpack(moved))
    for p = 1, 3 do
        if #lists[p] > 0 then
            redis.call('LPUSH', K_READY[p], unpack(lists[p]))
        end
    end
    redis.call('HINCRBY', K_STATS, 'dlq_requeued', #moved)
    redis.call('PUBLISH', PREFIX .. 'wake', #moved)
end
return out
