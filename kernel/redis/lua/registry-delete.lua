-- Deletes a tenant's record and set membership; logs the deletion only when there was a record.
-- KEYS: record, tenant set, change log. ARGV: id, log fields JSON.
-- Returns 1 when a record was removed, else 0.
local removed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if removed == 1 then
  local fields = cjson.decode(ARGV[2])
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
return removed
