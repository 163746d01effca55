-- Deletes a tenant's record and set membership (and its place in the id order); logs the deletion only when there was a record.
-- With an expected generation, only that generation is deleted: a change made since (a resume or
-- an apply during an offboarding) keeps the record. With an expected UID, only that tenant's
-- record: a tenant offboarded and onboarded again under the id meanwhile (UIDs are never handed
-- out again) keeps its record, whatever its generation.
-- KEYS: record, tenant set, change log, id order. ARGV: id, expected generation ('' for any), expected UID
-- ('' for any), log fields JSON.
-- Returns 1 when a record was removed, 0 when there was none, -N when the stored generation is N
-- and another generation or UID was expected (nothing removed).
if ARGV[2] ~= '' or ARGV[3] ~= '' then
  local raw = redis.call('GET', KEYS[1])
  if raw then
    local stored = cjson.decode(raw)
    local current = tonumber(stored['generation'])
    if ARGV[2] ~= '' and current ~= tonumber(ARGV[2]) then return -current end
    if ARGV[3] ~= '' and tonumber(stored['uid']) ~= tonumber(ARGV[3]) then return -current end
  end
end
local removed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if removed == 1 then
  local fields = cjson.decode(ARGV[4])
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
return removed
