-- complete: store results of succeeded jobs. ARGV: prefix, result_ttl_ms,
-- then per job id, token, result_json. Only the current lease holder may
-- complete (fencing). Returns per job 1 (stored) or 0 (stale: not written).
local ttl = tonumber(ARGV[2])
local now = now_ms()
local now_s = tostring(now)       -- converted once, not per job
local expire_s = tostring(now + ttl)
local ids = {}
for i = 3, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local metas = redis.call('HMGET', K_META, unpack(ids))
local out, rset, mset, dset, done, ev = {}, {}, {}, {}, {}, {}
-- active records only, the fields complete keeps (fewer captures)
local PAT = '^active|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|[^|]*|([^|]*)$'
for i, id in ipairs(ids) do
    local b = 3 + (i - 1) * 3
    local at, mx, pr, tok, wk, enq, fl
    if metas[i] then at, mx, pr, tok, wk, enq, fl = string.match(metas[i], PAT) end
    if at and tok == ARGV[b + 1] then
        out[i] = 1
        rset[#rset + 1] = id; rset[#rset + 1] = ARGV[b + 2]
        mset[#mset + 1] = id
        mset[#mset + 1] = 'succeeded|' .. at .. '|' .. mx .. '|' .. pr ..
            '||' .. wk .. '|' .. enq .. '|' .. now_s .. '|' .. fl
        dset[#dset + 1] = expire_s; dset[#dset + 1] = id
        done[#done + 1] = id
        ev[#ev + 1] = id; ev[#ev + 1] = 'succeeded'
    else
        out[i] = 0
    end
end
if #done > 0 then
    redis.call('HSET', K_RESULTS, unpack(rset))
    redis.call('HSET', K_META, unpack(mset))
    redis.call('ZADD', K_DONE, unpack(dset))
    redis.call('ZREM', K_LEASES, unpack(done))
    redis.call('HDEL', K_PROGRESS, unpack(done))
    redis.call('HINCRBY', K_STATS, 'succeeded', #done)
    events_add(ev)
end
return out
