-- batch_lease: the lease on an open batch record (README "Batch mode").
-- Whoever holds it polls the provider and settles; a holder that dies
-- loses it when it runs out and any worker takes the batch over. Every
-- take and renewal extends the members' job leases (those still held
-- under the batch's lease tokens) to now + member_ms.
-- ARGV: prefix, op, worker, lease_ms, member_ms, then by op:
--  "take": provider, base, max: take up to max due batches of this
--    provider and API base; returns per batch {token, lease token,
--    {field, value, ...} of the record}.
--  "renew": token, lease token, due_ms, then field/value pairs to set:
--    the batch is next due in due_ms (a renewal, or the end of the
--    holder's turn: the next poll); returns 1, or 0 when the lease is lost.
local op, worker = ARGV[2], ARGV[3]
local lease, mlease = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local K_BATCHES = PREFIX .. 'batches'

-- the members' leases, where the batch still holds them
local function members_extend(mkey)
    local cursor = '0'
    repeat
        local r = redis.call('HSCAN', mkey, cursor, 'COUNT', 1000)
        cursor = r[1]
        local kv = r[2]
        if #kv > 0 then
            local ids = {}
            for i = 1, #kv, 2 do ids[#ids + 1] = kv[i] end
            local metas = redis.call('HMGET', K_META, unpack(ids))
            local lset = {}
            for k, id in ipairs(ids) do
                local m = meta_unpack(metas[k])
                local jt = string.match(kv[2 * k], '^([^|]*)|')
                if m and m.state == 'active' and m.token == jt then
                    lset[#lset + 1] = now + mlease; lset[#lset + 1] = id
                end
            end
            if #lset > 0 then redis.call('ZADD', K_LEASES, 'XX', unpack(lset)) end
        end
    until cursor == '0'
end

if op == 'take' then
    local prov, base, max = ARGV[6], ARGV[7], tonumber(ARGV[8])
    local due = redis.call('ZRANGEBYSCORE', K_BATCHES, '-inf', now,
                           'LIMIT', 0, 100)
    local out = {}
    for _, tok in ipairs(due) do
        if #out >= max then break end
        local rkey = PREFIX .. 'batch:' .. tok
        local r = redis.call('HMGET', rkey, 'provider', 'base', 'state')
        if not r[3] then
            redis.call('ZREM', K_BATCHES, tok) -- the record is gone
        elseif r[1] == prov and r[2] == base then
            local ltok = string.format('%d', redis.call('INCR', K_SEQ)) .. ':' .. now
            redis.call('HSET', rkey, 'owner', worker, 'ltok', ltok)
            redis.call('HINCRBY', rkey, 'takes', 1)
            redis.call('ZADD', K_BATCHES, now + lease, tok)
            members_extend(rkey .. ':m')
            out[#out + 1] = {tok, ltok, redis.call('HGETALL', rkey)}
        end
    end
    return out
elseif op == 'renew' then
    local tok, ltok, due = ARGV[6], ARGV[7], tonumber(ARGV[8])
    local rkey = PREFIX .. 'batch:' .. tok
    if redis.call('HGET', rkey, 'ltok') ~= ltok or
        not redis.call('ZSCORE', K_BATCHES, tok) then
        return 0
    end
    if #ARGV >= 10 then
        local f = {}
        for i = 9, #ARGV do f[#f + 1] = ARGV[i] end
        redis.call('HSET', rkey, unpack(f))
    end
    redis.call('ZADD', K_BATCHES, now + due, tok)
    members_extend(rkey .. ':m')
    return 1
end
return redis.error_reply('batch_lease: unknown op ' .. tostring(op))
