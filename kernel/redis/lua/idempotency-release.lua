-- Releases an idempotency claim, but only the caller's own: a claim that expired and was taken by
-- another call stays.
-- KEYS: the claim. ARGV: the claim value the caller wrote.
-- Returns 1 when released, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
