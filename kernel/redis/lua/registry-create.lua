-- Creates a tenant: record, tenant set (and its id order) and change-log entry together; of two
-- concurrent creates, exactly one wins.
-- KEYS: record, tenant set, change log, id order. ARGV: id, record JSON, log fields JSON (a flat array).
-- Returns 1 when created, 0 when the tenant exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
local fields = cjson.decode(ARGV[3])
redis.call('XADD', KEYS[3], '*', unpack(fields))
return 1
