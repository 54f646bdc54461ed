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
local hist = redis.call('HMGET', K_HISTORY, unpack(ids))
local mset, hset, moved = {}, {}, {}
local lists = {{}, {}, {}}
local entry = '{"at":' .. now ..
    ',"worker":"","outcome":"dlq_requeued","error":null}'
local out = dead_each(ids, 'queued', function(i, id, m)
    if not keep then m.attempts = 0 end
    m.state = 'queued'; m.token = ''; m.upd = now; m.flags = ''
    mset[#mset + 1] = id; mset[#mset + 1] = meta_pack(m)
    hset[#hset + 1] = id; hset[#hset + 1] = history_append(hist[i], entry)
    moved[#moved + 1] = id
    local l = lists[m.prio + 1]
    l[#l + 1] = id
    return 'requeued'
end)
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
    wake(#moved)
end
return out
