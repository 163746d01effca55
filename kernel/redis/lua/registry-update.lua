-- Applies an update only on top of the generation it was made from, of the tenant it was made from
-- (its UID, never handed out again: a tenant offboarded and onboarded again under the same id may
-- reach the same generation), so a concurrent writer gets a conflict, never a silent overwrite;
-- with its change-log entry and, when
-- a secret name is given, that sealed secret value in the tenant's secret hash: a value is stored
-- only with the record that references it, so a refused update leaves the earlier value.
-- KEYS: record, change log, the tenant's secret hash. ARGV: expected generation, expected UID, new
-- record JSON, log fields JSON, secret name ('' for none), sealed secret value.
-- Returns 1 when written, 0 when the tenant is gone, -N when the stored generation is N and another
-- was expected or the stored UID is another (conflict).
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local stored = cjson.decode(raw)
local current = tonumber(stored['generation'])
if current ~= tonumber(ARGV[1]) or tonumber(stored['uid']) ~= tonumber(ARGV[2]) then return -current end
redis.call('SET', KEYS[1], ARGV[3])
local fields = cjson.decode(ARGV[4])
redis.call('XADD', KEYS[2], '*', unpack(fields))
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[5], ARGV[6]) end
return 1
