// Atomic registry writes as Lua scripts: the record, the tenant set and the change-log entry change
// together or not at all, and an update applies only on top of the generation it was made from
// (optimistic concurrency: a concurrent writer gets a conflict, never a silent overwrite).

/** KEYS: record, tenant set, change log. ARGV: id, record JSON, log fields JSON. */
export const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local fields = cjson.decode(ARGV[3])
redis.call('XADD', KEYS[3], '*', unpack(fields))
return 1
`;

/**
 * KEYS: record, change log. ARGV: expected generation, new record JSON, log fields JSON.
 * Returns 1 when written, 0 when the tenant is gone, -N when the stored generation is N (conflict).
 */
export const UPDATE_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local current = cjson.decode(raw)['generation']
if tonumber(current) ~= tonumber(ARGV[1]) then return -tonumber(current) end
redis.call('SET', KEYS[1], ARGV[2])
local fields = cjson.decode(ARGV[3])
redis.call('XADD', KEYS[2], '*', unpack(fields))
return 1
`;

/** KEYS: record, tenant set, change log. ARGV: id, log fields JSON. */
export const DELETE_SCRIPT = `
local removed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if removed == 1 then
  local fields = cjson.decode(ARGV[2])
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
return removed
`;
