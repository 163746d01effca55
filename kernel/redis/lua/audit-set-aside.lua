-- Sets aside what an earlier tenant of the same id left of its trail in Redis, as a tenant is
-- registered under that id: the stream and the head are renamed (RENAME keeps their expiry, the
-- retention offboarding gave them), so the new tenant's chain starts at seq 1 instead of continuing
-- the earlier one's, whose entries it would otherwise show as its own, and whose expiry would later
-- drop the new tenant's entries with them. A key left without an expiry (a trail older than that
-- rule) gets ARGV[1] seconds. Nothing is deleted: the set-aside keys go when their expiry says.
-- Only while the id has no record: a tenant registered meanwhile (a concurrent onboard or apply
-- of the same id) owns the trail, which is never set aside under it.
-- KEYS: stream, head, the set-aside stream, the set-aside head, the tenant's record. ARGV: seconds
-- to keep a key that has no expiry. Returns -2 when the tenant has a record, -1 when nothing was
-- there, else the entries set aside.
if redis.call('EXISTS', KEYS[5]) == 1 then return -2 end
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local entries = redis.call('XLEN', KEYS[1])
local function aside(key, to)
  if redis.call('EXISTS', key) == 0 then return end
  redis.call('RENAME', key, to)
  if redis.call('TTL', to) == -1 then redis.call('EXPIRE', to, ARGV[1]) end
end
aside(KEYS[1], KEYS[3])
aside(KEYS[2], KEYS[4])
return entries
