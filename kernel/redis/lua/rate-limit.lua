-- One rate-limit decision over every layer a call touches (GCRA, the generic cell rate algorithm):
-- the call is admitted only if every layer admits it, and only then is every layer charged, so no
-- layer pays for a call another layer refused. One script is one atomic step in Redis, which makes
-- the decision exact across any number of router processes; the clock is Redis's own (TIME), so
-- the routers' clocks do not matter.
-- KEYS[1..5]: each layer's theoretical arrival time (ms, a string), in the order tenant per minute,
-- tenant per day, agent, user, tool.
-- ARGV[1..5]: each layer's limit (calls per period; 0 = the layer does not apply to this call);
-- ARGV[6..10]: each layer's period in ms; ARGV[11]: 1 to only look (quota_status), 0 to decide.
-- Returns { admitted (1/0), the deciding layer (1..5; when refused, the one to wait longest for),
-- then per layer: limit, remaining, ms until fully replenished, ms until a call would be admitted }.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local peek = ARGV[11] == '1'
local admitted = 1
local deciding = 0
local longest = -1
-- Named once each, so that the key count the caller declares can be checked against the script.
local keys = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5] }
local layers = {}
for i = 1, 5 do
  local limit = tonumber(ARGV[i])
  local period = tonumber(ARGV[5 + i])
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
for i = 1, 5 do
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
