-- Extends an idempotency claim's life while its call runs, but only the caller's own: a claim that
-- expired and was taken by another call is left to that call.
-- KEYS: the claim. ARGV: the claim value the caller wrote, the new time to live in milliseconds.
-- Returns 1 when extended, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
