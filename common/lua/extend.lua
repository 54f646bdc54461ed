-- extend: heartbeat for a worker's in-flight jobs. ARGV: prefix,
-- visibility_ms, then per job id, token, progress (-1 = none).
-- Returns per job 1 (lease extended) or 0 (lease lost: wrong token, or the
-- job is no longer active) — the worker must abandon lost jobs.
local vis = tonumber(ARGV[2])
local now = now_ms()
local ids, n = {}, 0 -- a counter, not #ids: each # searches the table
for i = 3, #ARGV, 3 do n = n + 1; ids[n] = ARGV[i] end
if n == 0 then return {} end
local metas = redis.call('HMGET', K_META, unpack(ids))
local out, lset, pset = {}, {}, {}
local k, kp = 0, 0 -- filled: lset, pset
local smatch = string.match
-- converted once: a number concatenated or passed per job costs a sprintf
local deadline = tostring(now + vis)
for i = 1, n do
    local b = 3 * i
    -- the token of an active record, one capture (not meta_unpack's nine
    -- and a table: this runs for every job in flight on every heartbeat)
    local m = metas[i]
    if m and smatch(m, META_PAT_TOKEN) == ARGV[b + 1] then
        out[i] = 1
        k = k + 2
        lset[k - 1] = deadline; lset[k] = ids[i]
        local pr = ARGV[b + 2]
        -- "-1" (none, what a worker sends for most jobs) by the string:
        -- no tonumber call per job
        if pr ~= '-1' and tonumber(pr) >= 0 then
            kp = kp + 2
            pset[kp - 1] = ids[i]; pset[kp] = pr
        end
    else
        out[i] = 0
    end
end
if #lset > 0 then redis.call('ZADD', K_LEASES, 'XX', unpack(lset)) end
if #pset > 0 then redis.call('HSET', K_PROGRESS, unpack(pset)) end
return out
