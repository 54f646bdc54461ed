-- budget: fleet-wide spend caps per UTC day and calendar month, in tokens
-- and USD, overall and per queue (worker/budget.c). Reserve-then-settle: a
-- call's estimated cost is added before it starts and corrected by what the
-- API reported after, so spend can pass a cap by at most the reservations
-- in flight when the cap was reached.
-- KEYS (not a queue's key): 1 caps hash (KEY_BUDGET_CAPS),
-- 2 the day's hash, 3 the month's hash.
-- ARGV: 1 unused (the prelude's prefix slot: "-"), 2 op, 3 queue ("" =
-- none), 4 tokens,
-- 5 usd, 6 day ttl s, 7 month ttl s.
-- op reserve: refuse when any cap that applies is reached (spend, with the
--   reservations in flight, at or over it): {0, cap, spent, limit, alert}
--   where alert is 1 for the first refusal of this cap value in its period
--   fleet-wide (the one P0 alert); else add tokens/usd as spend and as
--   reservation and return {1}.
-- op check: the same test without adding or alerting.
-- op settle: add tokens/usd (a correction: may be negative) to spend and
--   subtract ARGV[8]/ARGV[9] (the reservation's tokens/usd) from the
--   reservations; returns {1}.
local op, q = ARGV[2], ARGV[3]
local tok, usd = tonumber(ARGV[4]), tonumber(ARGV[5])
local K_CAPS, K_DAY, K_MONTH = KEYS[1], KEYS[2], KEYS[3]

local function over()
    local caps = redis.call('HGETALL', K_CAPS)
    local c = {}
    for i = 1, #caps, 2 do c[caps[i]] = tonumber(caps[i + 1]) end
    local checks = {
        {'usd_day', K_DAY, 'usd'}, {'tok_day', K_DAY, 'tok'},
        {'usd_month', K_MONTH, 'usd'}, {'tok_month', K_MONTH, 'tok'}}
    if q ~= '' then
        local p = 'q:' .. q .. ':'
        checks[5] = {p .. 'usd_day', K_DAY, p .. 'usd'}
        checks[6] = {p .. 'tok_day', K_DAY, p .. 'tok'}
        checks[7] = {p .. 'usd_month', K_MONTH, p .. 'usd'}
        checks[8] = {p .. 'tok_month', K_MONTH, p .. 'tok'}
    end
    for _, ck in ipairs(checks) do
        local cap = c[ck[1]]
        if cap and cap > 0 then
            local spent = tonumber(redis.call('HGET', ck[2], ck[3]) or '0')
            if spent >= cap then return ck[1], spent, cap, ck[2] end
        end
    end
    return nil
end

local function add(key, ttl, t, u)
    if t ~= 0 then
        redis.call('HINCRBY', key, 'tok', t)
        if q ~= '' then redis.call('HINCRBY', key, 'q:' .. q .. ':tok', t) end
    end
    if u ~= 0 then
        -- a Lua number with a fraction is no command argument: a string
        redis.call('HINCRBYFLOAT', key, 'usd', tostring(u))
        if q ~= '' then
            redis.call('HINCRBYFLOAT', key, 'q:' .. q .. ':usd', tostring(u))
        end
    end
    redis.call('EXPIRE', key, ttl)
end

local function spend(t, u, rt, ru)
    add(K_DAY, tonumber(ARGV[6]), t, u)
    add(K_MONTH, tonumber(ARGV[7]), t, u)
    if rt ~= 0 then redis.call('HINCRBY', K_DAY, 'res_tok', rt) end
    if ru ~= 0 then
        redis.call('HINCRBYFLOAT', K_DAY, 'res_usd', tostring(ru))
    end
end

if op == 'reserve' or op == 'check' then
    local cap, spent, limit, key = over()
    if cap then
        local first = 0
        if op == 'reserve' then
            local f = 'alert:' .. cap
            if redis.call('HGET', key, f) ~= tostring(limit) then
                redis.call('HSET', key, f, tostring(limit))
                first = 1
            end
        end
        return {0, cap, tostring(spent), tostring(limit), first}
    end
    if op == 'reserve' then spend(tok, usd, tok, usd) end
    return {1}
elseif op == 'settle' then
    spend(tok, usd, -tonumber(ARGV[8]), -tonumber(ARGV[9]))
    return {1}
end
return redis.error_reply('budget: unknown op ' .. tostring(op))
