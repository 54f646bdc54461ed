-- extend: heartbeat for a worker's in-flight jobs. ARGV: prefix,
-- visibility_ms, then per job id, token, progress (-1 = none).
-- Returns per job 1 (lease extended) or 0 (lease lost: wrong token, or the
-- job is no longer active) — the worker must abandon lost jobs.
local vis = tonumber(ARGV[2])
local now = now_ms()
local ids = {}
for i = 3, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local metas = redis.call('HMGET', K_META, unpack(ids))
local out, lset, pset = {}, {}, {}
for i, id in ipairs(ids) do
    local b = 3 + (i - 1) * 3
    local m = meta_unpack(metas[i])
    if m and m.state == 'active' and m.token == ARGV[b + 1] then
        out[i] = 1
        lset[#lset + 1] = now + vis; lset[#lset + 1] = id
        local pr = tonumber(ARGV[b + 2])
        if pr >= 0 then pset[#pset + 1] = id; pset[#pset + 1] = pr end
    else
        out[i] = 0
    end
end
if #lset > 0 then redis.call('ZADD', K_LEASES, 'XX', unpack(lset)) end
if #pset > 0 then redis.call('HSET', K_PROGRESS, unpack(pset)) end
return out
