-- Keeps a tenant's isolation report as its latest, but only while the record it was made for is
-- there: a verify that read the record before an offboarding finishes after the offboarding deleted
-- it and forgot the tenant's evidence, and its report, kept, would outlive the tenant.
-- KEYS: the tenant's record, its evidence. ARGV: the createdAt of the record the report was made
-- for, the value to keep. Returns 1 when kept, 0 when that record is gone (nothing kept).
local raw = redis.call('GET', KEYS[1])
if not raw or cjson.decode(raw)['createdAt'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
