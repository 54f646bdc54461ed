-- release: hand back jobs leased to a worker that does not hold them (its
-- claim reply was lost: dropped connection, command timeout). ARGV: prefix,
-- worker id, then the lease tokens the worker does hold. Every active job
-- of that worker whose token is not among them returns to its ready list
-- with the attempt not counted. Returns how many were released.
local worker = ARGV[2]
local held = {}
for i = 3, #ARGV do held[ARGV[i]] = true end
local now = now_ms()
local ids = redis.call('ZRANGE', K_LEASES, 0, -1)
local n, hc = 0, held_ctx()
for c = 1, #ids, 1000 do
    local chunk = {}
    for i = c, math.min(c + 999, #ids) do chunk[#chunk + 1] = ids[i] end
    local metas = redis.call('HMGET', K_META, unpack(chunk))
    for i, id in ipairs(chunk) do
        local m = meta_unpack(metas[i])
        if m and m.state == 'active' and m.worker == worker and
            not held[m.token] then
            history_add(id, now, worker, 'released', cjson.encode({
                class = 'not_job_fault', http_status = cjson.null,
                type = 'lost_claim', request_id = cjson.null,
                message = 'the claim reply never reached the worker'}))
            held_restore(hc, id, m.token)
            m.attempts = m.attempts - 1
            m.state = 'queued'; m.token = ''; m.upd = now
            redis.call('HSET', K_META, id, meta_pack(m))
            redis.call('ZREM', K_LEASES, id)
            redis.call('LPUSH', K_READY[m.prio + 1], id)
            n = n + 1
        end
    end
end
held_done(hc)
if n > 0 then wake(n) end
return n
