-- cancel: `genq cancel`. ARGV: prefix, retention_ms, the feed's bound
-- (GENQ_FEED_MAXLEN, 0 = no feed entry), then ids. A queued or
-- delayed job becomes canceled at once (out of its ready list or the
-- delayed set, kept retention_ms in the done set like a result, counted,
-- one event); an active job gets the cancel flag in its meta and becomes
-- canceled when its attempt fails or its lease expires (fail.lua, reap) —
-- if it succeeds instead, the result is kept and it is succeeded.
-- Returns per id {outcome, state}: outcome "canceled", "requested"
-- (active, flagged), "unchanged" (already succeeded/dead/canceled) or
-- "unknown"; state is the job's state afterwards.
local ttl, feed_max = tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local ids = {}
for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local metas = metas_get(ids)
local out, ev, seen = {}, {}, {}
local err = cancel_err('canceled by an operator')
for i, id in ipairs(ids) do
    local m = meta_unpack(metas[i])
    if seen[id] then
        m = meta_unpack(metas_get({id})[1])
    end
    seen[id] = true
    if not m then
        out[i] = {'unknown', 'unknown'}
    elseif m.state == 'queued' or m.state == 'delayed' then
        if m.state == 'queued' then
            redis.call('LREM', K_READY[m.prio + 1], 0, id)
        else
            redis.call('ZREM', K_DELAYED, id)
        end
        history_add(id, now, '', 'canceled', err)
        to_canceled(id, m, now, ttl, err, ev)
        out[i] = {'canceled', 'canceled'}
    elseif m.state == 'active' then
        if not cancel_ttl(m) then
            m.flags = 'cancel:' .. ttl
            redis.call('HSET', K_META, id, meta_pack(m))
        end
        out[i] = {'requested', 'active'}
    else
        out[i] = {'unchanged', m.state}
    end
end
events_add(ev, feed_max, now)
return out
