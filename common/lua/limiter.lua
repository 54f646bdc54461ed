-- limiter: the fleet-wide rate limiter, cooldown and circuit breaker of one
-- limit key (provider + API base + model class), all in one hash KEYS[1] =
-- "genq:lim:{ID}" on Redis's clock (TIME). Token buckets with continuous
-- refill, one per metered quantity: r (requests), it (input tokens), ot
-- (output tokens), t (total tokens), each of L per minute: the level refills
-- at L/60000 per ms up to L, and may go below 0 (debt, after a settle).
-- A bucket with no limit (neither configured nor learned) is not metered.
--
-- ARGV: 1 the limit key id (prelude's PREFIX), 2 the operation, 3 the clock
-- in ms ("" = Redis TIME; tests pass one), then the operation's arguments.
--   reserve IT OT TOKEN AHEAD_MS HEADROOM -> {1, 0, "ok"|"probe"|"free"}, {1, START_MS,
--       "ahead"} or {0, WAIT_MS, WHY}. A try that fits within AHEAD_MS is
--       reserved now and starts in START_MS (the buckets go below 0 for it:
--       the next caller is scheduled after it, so waiters queue in order
--       instead of all asking again at the same moment); one that does not
--       is told when to ask again. WHY: "cooldown", "breaker", or "limit:B"
--       (the bucket that binds). HEADROOM (a fraction, e.g. 0.02) of each
--       bucket is kept back (the usable bucket is L * (1 - HEADROOM)):
--       calls that leave together can arrive closer together (network,
--       scheduling), and the provider's bucket must not see them faster
--       than it refills. The steady rate is the limit; an emptied bucket
--       admits again at the refill rate.
--       "free": no bucket is metered yet (nothing reserved; its settle
--       passes the usage as the estimate: nothing to refund or charge).
--   reserve_n AHEAD_MS HEADROOM [IT OT TOKEN]... -> {A, MS, WHY, ...,
--       ROOM}: the same for many tries in one call (one worker's loop
--       iteration), in order, each triple as reserve's reply; one refill
--       and one write. ROOM: how many more tries of this batch's average
--       size the tightest metered bucket holds now, above its headroom (0
--       in a cooldown or while the breaker is not closed; 10^9 when no
--       bucket is metered). A worker may start up to half of ROOM tries
--       before their reservation's reply (it still sends each one): a
--       limit that far away cannot bind in one round trip.
--   settle IT_EST OT_EST IT_USED OT_USED OK [B LIMIT REMAINING]... -> {1}
--       refund, or debt; OK = 1: the call succeeded (closes the breaker);
--       then what the response's headers said, as for learn. The worker
--       sends the sums of the tries it settles in one loop iteration (OK =
--       1 when any succeeded) and the newest response's headers.
--   learn B LIMIT REMAINING ... (per bucket B; REMAINING -1 = not sent)
--   cooldown SECONDS BASE_MS CAP_MS -> {UNTIL_MS}: SECONDS <= 0 (no
--       retry-after) backs off BASE_MS doubling per 429 in a row, <= CAP_MS
--   bfail HINT_MS MAX_MS RAND THRESHOLD -> {OPEN_UNTIL_MS or 0, OPENED}
--   bok -> {CLOSED}
--   config R IT OT T WRITER -> {CONFLICT, old R, IT, OT, T, old WRITER}
--   show -> flat {field, value, ...}: the hash with levels refilled to now
-- Fields: c_B configured limit, c_at, c_by; l_B learned limit; v_B level;
-- ts last refill (ms); cool (ms) and cool_n (429s in a row); b_until (ms,
-- 0 = closed), b_n (backoff exponent), b_fails (failures in a row),
-- b_probe_until (ms: the fleet's one probe runs until then); n_adm,
-- n_delay, n_429 counters.
local K = KEYS[1]
local op = ARGV[2]
local now = (ARGV[3] ~= '' and tonumber(ARGV[3])) or now_ms()
local B = {'r', 'it', 'ot', 't'}

local h = {}
do
    local raw = redis.call('HGETALL', K)
    for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
end
local function num(f) return tonumber(h[f]) or 0 end

-- The limit of bucket b: configured, else learned, else 0 (not metered).
local function limit(b)
    local c = num('c_' .. b)
    if c > 0 then return c end
    return num('l_' .. b)
end

-- Refill every metered bucket to now. A clock that went back (a failover
-- to a replica behind) refills nothing and restarts from now.
local function refill()
    local ts = tonumber(h.ts) or now
    local dt = now - ts
    if dt < 0 then dt = 0 end
    for _, b in ipairs(B) do
        local L = limit(b)
        if L > 0 then
            local v = tonumber(h['v_' .. b]) or L
            v = v + dt * L / 60000
            if v > L then v = L end
            h['v_' .. b] = v
        end
    end
    h.ts = now
end

local function save(fields)
    local out = {}
    for _, f in ipairs(fields) do
        if h[f] ~= nil then
            out[#out + 1] = f
            out[#out + 1] = tostring(h[f])
        end
    end
    if #out > 0 then redis.call('HSET', K, unpack(out)) end
end
local LEVELS = {'v_r', 'v_it', 'v_ot', 'v_t', 'ts'}

-- Learn limits from ARGV[from..] (triples B LIMIT REMAINING): a learned
-- limit replaces the last one; a configured one wins over it; remaining
-- only ever lowers the level (tightens). A bucket learned for the first
-- time starts empty: the calls that went out unmetered before it (up to
-- the fleet's concurrency) are still in flight and have spent an unknown
-- part of the provider's bucket, which their remaining does not show yet.
local function learn(from)
    for i = from, #ARGV - 2, 3 do
        local b, L, rem = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
        if L and L > 0 and (b == 'r' or b == 'it' or b == 'ot' or b == 't') then
            local first = h['l_' .. b] == nil
            h['l_' .. b] = L
            if num('c_' .. b) <= 0 then
                local v = tonumber(h['v_' .. b])
                if first and (v == nil or v > 0) then v = 0 end
                if rem and rem >= 0 and (v == nil or rem < v) then v = rem end
                h['v_' .. b] = math.min(v or L, L)
            end
        end
    end
    save({'l_r', 'l_it', 'l_ot', 'l_t'})
    save(LEVELS)
end

-- One reservation (reserve's contract above) on the in-memory hash h,
-- buckets refilled already; the caller saves LEVELS (and the probe fields
-- when it says so) and counts cnt.adm / cnt.delay once per call.
local cnt = {adm = 0, delay = 0, probe = false}
local function reserve1(it, ot, token, ahead, headroom)
    local need = {r = 1, it = it, ot = ot, t = it + ot}
    if num('cool') > now then
        cnt.delay = cnt.delay + 1
        return 0, math.ceil(num('cool') - now), 'cooldown'
    end
    local probe = false
    if num('b_until') > 0 then
        if now < num('b_until') or now < num('b_probe_until') then
            local t = math.max(num('b_until'), num('b_probe_until'))
            cnt.delay = cnt.delay + 1
            return 0, math.ceil(t - now), 'breaker'
        end
        -- half open: this caller is the fleet's one probe for an interval
        probe = true
        cnt.probe = true
        h.b_probe_until = now + math.max(100, num('b_until') - num('b_at'))
        h.b_probe = token
    end
    local wait, why = 0, 'ok'
    for _, b in ipairs(B) do
        local L = limit(b)
        if L > 0 then
            -- HEADROOM is never handed out: the usable bucket holds
            -- L * (1 - HEADROOM). (A floor of L * HEADROOM instead made
            -- every emptied bucket -- a first learn, the end of a
            -- cooldown -- hold the whole fleet for HEADROOM of a minute,
            -- 1.2 s at 2%, whatever the limit.)
            local cap = L * (1 - headroom)
            if h['v_' .. b] > cap then h['v_' .. b] = cap end
            -- a request larger than the bucket passes when it is full
            local n = math.min(need[b], cap)
            local v = h['v_' .. b]
            if v < n then
                local w = (n - v) * 60000 / L
                if w > wait then wait, why = w, 'limit:' .. b end
            end
        end
    end
    if wait > ahead and not probe then
        cnt.delay = cnt.delay + 1
        return 0, math.ceil(wait - ahead), why
    end
    local metered = false
    for _, b in ipairs(B) do
        if limit(b) > 0 then
            h['v_' .. b] = h['v_' .. b] - need[b]
            metered = true
        end
    end
    cnt.adm = cnt.adm + 1
    if probe then return 1, 0, 'probe' end
    if wait > 0 then return 1, math.ceil(wait), 'ahead' end
    if not metered then return 1, 0, 'free' end
    return 1, 0, 'ok'
end

local function reserve_done()
    save(LEVELS)
    if cnt.probe then save({'b_probe_until', 'b_probe'}) end
    if cnt.adm > 0 then redis.call('HINCRBY', K, 'n_adm', cnt.adm) end
    if cnt.delay > 0 then redis.call('HINCRBY', K, 'n_delay', cnt.delay) end
end

if op == 'reserve' then
    refill()
    local a, ms, why = reserve1(tonumber(ARGV[4]) or 0, tonumber(ARGV[5]) or 0,
                                ARGV[6] or '', tonumber(ARGV[7]) or 0,
                                tonumber(ARGV[8]) or 0)
    reserve_done()
    return {a, ms, why}
elseif op == 'reserve_n' then
    local ahead, headroom = tonumber(ARGV[4]) or 0, tonumber(ARGV[5]) or 0
    local out = {}
    refill()
    local n, sum = 0, {r = 0, it = 0, ot = 0, t = 0}
    for i = 6, #ARGV - 2, 3 do
        local it, ot = tonumber(ARGV[i]) or 0, tonumber(ARGV[i + 1]) or 0
        local a, ms, why = reserve1(it, ot, ARGV[i + 2], ahead, headroom)
        out[#out + 1] = a
        out[#out + 1] = ms
        out[#out + 1] = why
        n = n + 1
        sum.r, sum.it, sum.ot, sum.t = sum.r + 1, sum.it + it, sum.ot + ot,
                                       sum.t + it + ot
    end
    reserve_done()
    -- ROOM: how many more tries like these the tightest bucket holds now
    -- (0 in a cooldown or with the breaker not closed; 10^9 unmetered)
    local room = 1000000000
    if num('cool') > now or num('b_until') > 0 then room = 0 end
    for _, b in ipairs(B) do
        local L = limit(b)
        if L > 0 and n > 0 then
            local k = math.floor((h['v_' .. b] - L * headroom) /
                                 math.max(sum[b] / n, 1))
            if k < room then room = k end
        end
    end
    out[#out + 1] = math.max(room, 0)
    return out
elseif op == 'settle' then
    local ie, oe = tonumber(ARGV[4]) or 0, tonumber(ARGV[5]) or 0
    local iu, ou = tonumber(ARGV[6]) or 0, tonumber(ARGV[7]) or 0
    local back = {it = ie - iu, ot = oe - ou, t = ie + oe - iu - ou}
    refill()
    for b, d in pairs(back) do
        local L = limit(b)
        if L > 0 then h['v_' .. b] = math.min(L, h['v_' .. b] + d) end
    end
    save(LEVELS)
    learn(9)
    if ARGV[8] == '1' then
        redis.call('HSET', K, 'cool_n', 0, 'b_fails', 0)
        if num('b_until') > 0 then
            redis.call('HSET', K, 'b_until', 0, 'b_n', 0, 'b_probe_until', 0)
        end
    end
    return {1}
elseif op == 'learn' then
    refill()
    learn(4)
    return {1}
elseif op == 'cooldown' then
    local s = tonumber(ARGV[4]) or 0
    local base, cap = tonumber(ARGV[5]) or 1000, tonumber(ARGV[6]) or 60000
    refill()
    h.cool_n = num('cool_n') + 1
    local d = s > 0 and s * 1000 or math.min(cap, base * 2 ^ (h.cool_n - 1))
    if now + d > num('cool') then h.cool = math.floor(now + d) end
    -- empty every metered bucket at the end of the cooldown: calls resume
    -- at the refill rate (ramped), not all at once
    local until_ms = num('cool')
    for _, b in ipairs(B) do
        local L = limit(b)
        if L > 0 then
            local v = -(until_ms - now) * L / 60000
            if v < h['v_' .. b] then h['v_' .. b] = v end
        end
    end
    h.n_429 = num('n_429') + 1
    save(LEVELS)
    save({'cool', 'cool_n', 'n_429'})
    return {math.floor(until_ms)}
elseif op == 'bfail' then
    local hint, max = tonumber(ARGV[4]) or 0, tonumber(ARGV[5]) or 60000
    local rnd, thr = tonumber(ARGV[6]) or 0.5, tonumber(ARGV[7]) or 1
    local opened = 0
    if num('b_until') > 0 and num('b_probe_until') == 0 then
        -- open, no probe out yet: a later hint may only lengthen it
        if hint > 0 and now + hint > num('b_until') then
            h.b_until = math.floor(now + hint)
            save({'b_until'})
        end
        return {math.floor(num('b_until')), 0}
    end
    h.b_fails = num('b_fails') + 1
    if num('b_until') == 0 and h.b_fails < thr then
        save({'b_fails'})
        return {0, 0}
    end
    -- closed and past the threshold, or the probe failed: (re)open
    if num('b_until') == 0 then opened = 1 end
    h.b_n = num('b_n') + 1
    local d = math.min(max, 1000 * 2 ^ (h.b_n - 1)) * (0.5 + rnd / 2)
    if hint > 0 then d = math.min(max, hint) end
    h.b_until = math.floor(now + d)
    h.b_at = now
    h.b_probe_until = 0
    save({'b_fails', 'b_n', 'b_until', 'b_at', 'b_probe_until'})
    return {math.floor(h.b_until), opened}
elseif op == 'bok' then
    local was = num('b_until') > 0
    redis.call('HSET', K, 'b_until', 0, 'b_n', 0, 'b_fails', 0,
               'b_probe_until', 0)
    return {was and 1 or 0}
elseif op == 'config' then
    local old = {num('c_r'), num('c_it'), num('c_ot'), num('c_t'),
                 h.c_by or ''}
    local new = {tonumber(ARGV[4]) or 0, tonumber(ARGV[5]) or 0,
                 tonumber(ARGV[6]) or 0, tonumber(ARGV[7]) or 0}
    local conflict = 0
    if h.c_at then
        for i = 1, 4 do if old[i] ~= new[i] then conflict = 1 end end
    end
    refill()
    for i, b in ipairs(B) do
        h['c_' .. b] = new[i]
        local L = limit(b)
        -- (a level kept from before the bucket was unmetered is still the
        -- hash's string: refill() skipped it)
        local v = tonumber(h['v_' .. b])
        if L > 0 and (v == nil or v > L) then
            h['v_' .. b] = L
        elseif L > 0 then
            h['v_' .. b] = v
        end
    end
    h.c_at = now
    h.c_by = ARGV[8] or ''
    save({'c_r', 'c_it', 'c_ot', 'c_t', 'c_at', 'c_by'})
    save(LEVELS)
    return {conflict, old[1], old[2], old[3], old[4], old[5]}
elseif op == 'show' then
    refill()
    local out = {'now', tostring(now)}
    for f, v in pairs(h) do
        out[#out + 1] = f
        out[#out + 1] = tostring(v)
    end
    return out
end
return redis.error_reply('limiter: unknown operation ' .. tostring(op))
