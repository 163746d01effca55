-- Applies an update only on top of the generation it was made from (optimistic concurrency: a
-- concurrent writer gets a conflict, never a silent overwrite), with its change-log entry and, when
-- a secret name is given, that sealed secret value in the tenant's secret hash: a value is stored
-- only with the record that references it, so a refused update leaves the earlier value.
-- KEYS: record, change log, the tenant's secret hash. ARGV: expected generation, new record JSON,
-- log fields JSON, secret name ('' for none), sealed secret value.
-- Returns 1 when written, 0 when the tenant is gone, -N when the stored generation is N (conflict).
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local current = cjson.decode(raw)['generation']
if tonumber(current) ~= tonumber(ARGV[1]) then return -tonumber(current) end
redis.call('SET', KEYS[1], ARGV[2])
local fields = cjson.decode(ARGV[3])
redis.call('XADD', KEYS[2], '*', unpack(fields))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[5]) end
return 1
