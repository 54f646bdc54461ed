-- inspect: read-only view of jobs for `genq status` / `genq result`.
-- ARGV: prefix, with_payload (0/1), with_result (0/1), then ids.
-- Returns per id a flat group of 9: meta, lease_deadline_ms, now_ms,
-- progress, last_error, history, payload, result, died_at (false = absent).
local wp, wr = ARGV[2] == '1', ARGV[3] == '1'
local now = now_ms()
local ids = {}
for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local metas = metas_get(ids)
local prog = redis.call('HMGET', K_PROGRESS, unpack(ids))
local errs = redis.call('HMGET', K_ERRORS, unpack(ids))
local hist = redis.call('HMGET', K_HISTORY, unpack(ids))
local pay, res = {}, {}
if wp then
    pay = payloads_get(ids)
    -- an active or succeeded job of a held claim (layout 5, prelude.lua
    -- K_HELD): its element in the claim's list, found by the token its
    -- record keeps (until the list's retention ends)
    for i, id in ipairs(ids) do
        local m = not pay[i] and meta_unpack(metas[i])
        local seq = m and held_seq(m.token)
        if seq then
            local e = held_element(seq, id)
            if e then
                local _, p = job_split(e)
                pay[i] = p
            end
        end
    end
end
if wr then res = redis.call('HMGET', K_RESULTS, unpack(ids)) end
local out = {}
for i, id in ipairs(ids) do
    local lease, died = false, false
    if metas[i] then
        local st = string.match(metas[i], '^([^|]*)') -- the state (META_PAT)
        if st == 'active' then lease = redis.call('ZSCORE', K_LEASES, id) end
        if st == 'dead' then died = redis.call('ZSCORE', K_DEAD, id) end
    end
    out[#out + 1] = metas[i]; out[#out + 1] = lease; out[#out + 1] = now
    out[#out + 1] = prog[i]; out[#out + 1] = errs[i]; out[#out + 1] = hist[i]
    out[#out + 1] = pay[i] or false; out[#out + 1] = res[i] or false
    out[#out + 1] = died
end
return out
