-- One rate-limit decision over every layer a call touches (GCRA, the generic cell rate algorithm):
-- the call is admitted only if every layer admits it, and only then is every layer charged, so no
-- layer pays for a call another layer refused. One script is one atomic step in Redis, which makes
-- the decision exact across any number of router processes; the clock is Redis's own (TIME), so
-- the routers' clocks do not matter.
-- KEYS[1..5]: each layer's theoretical arrival time (ms, a string), in the order tenant per minute,
-- tenant per day, agent, user, tool; KEYS[6..8]: the same for up to three upstreams (downstream
-- budgets shared by every tenant); KEYS[9]: the hash of upstream budgets (name -> calls per minute).
-- ARGV[1..5]: each layer's limit (calls per period; 0 = the layer does not apply to this call);
-- ARGV[6..10]: each layer's period in ms; ARGV[11]: 1 to only look (quota_status), 0 to decide;
-- ARGV[12..14]: the upstreams' names ('' = the slot is unused). An upstream's limit is read here,
-- from KEYS[9], so that a budget an operator changes applies to the next call without a round trip;
-- an upstream with no budget there does not limit.
-- Returns { admitted (1/0), the deciding layer (1..8; when refused, the one to wait longest for),
-- then per layer: limit, remaining, ms until fully replenished, ms until a call would be admitted }.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local peek = ARGV[11] == '1'
local admitted = 1
local deciding = 0
local longest = -1
-- Named once each, so that the key count the caller declares can be checked against the script.
local keys = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8] }
local upstreams = { ARGV[12], ARGV[13], ARGV[14] }
local function limitOf(i)
  if i <= 5 then return tonumber(ARGV[i]), tonumber(ARGV[5 + i]) end
  local name = upstreams[i - 5]
  if name == '' then return 0, 60000 end
  return tonumber(redis.call('HGET', KEYS[9], name) or '0') or 0, 60000
end
local layers = {}
for i = 1, 8 do
  local limit, period = limitOf(i)
  local layer = { limit = limit, remaining = 0, reset = 0, retry = 0 }
  if limit > 0 then
    local step = period / limit
    local tat = tonumber(redis.call('GET', keys[i]) or now)
    if tat < now then tat = now end
    layer.tat = tat + step
    layer.remaining = math.max(0, math.floor((period - (tat - now)) / step + 0.000001))
    layer.reset = math.ceil(tat - now)
    -- A millisecond's tolerance: step is a float and must not refuse the limit-th call by rounding.
    local wait = layer.tat - period - now
    if wait > 0.001 then
      layer.retry = math.ceil(wait)
      admitted = 0
      if layer.retry > longest then longest = layer.retry; deciding = i end
    end
  end
  layers[i] = layer
end
local result = { admitted, deciding }
for i = 1, 8 do
  local layer = layers[i]
  if admitted == 1 and not peek and layer.limit > 0 then
    -- Charged: one call less, replenished later. The key lives until the layer is full again, so
    -- an idle caller leaves nothing behind.
    layer.remaining = layer.remaining - 1
    layer.reset = math.ceil(layer.tat - now)
    redis.call('SET', keys[i], string.format('%.3f', layer.tat), 'PX', math.max(1, layer.reset))
  end
  result[#result + 1] = layer.limit
  result[#result + 1] = layer.remaining
  result[#result + 1] = layer.reset
  result[#result + 1] = layer.retry
end
return result
