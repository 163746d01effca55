// Upstream budgets: a downstream API's calls per minute, shared by every tenant whose calls use it
// (docs/rate-limits.md, "Upstreams"). An installation-wide Redis hash, name -> calls per minute,
// that the rate-limit script reads on each decision (so a change applies to the next call); an
// upstream with no entry does not limit. Operators set them with `bulkhead upstream`; the
// router charges the upstreams a tool definition names with the call, and the egress gateway
// charges a pack's request through `chargeUpstream`, and gives back with `refundUpstream` one that
// never reached the upstream.
import type { Redis } from 'ioredis';
import { upstreamBudgetsKey, upstreamRateKey } from '../redis/keys.ts';
import { redisScripts } from '../redis/scripts.ts';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { UPSTREAM_NAME } from '../tools/tool-definition.ts';
import { RateLimiter, type RateDecision } from './rate-limiter.ts';

/** The highest budget, as for every per-minute quota (kernel/tenant/tenant-spec.ts). */
export const MAX_UPSTREAM_CALLS_PER_MINUTE = 1_000_000;

/** The name, or an invalid_input error (exported so the CLI refuses it before it connects). */
export function checkedUpstreamName(name: string): string {
  if (!UPSTREAM_NAME.test(name))
    throw new BulkheadError('invalid_input', `invalid upstream name "${name}" (${UPSTREAM_NAME.source})`);
  return name;
}

/** The budget, or an invalid_input error (exported so the CLI refuses it before it connects). */
export function checkedUpstreamLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_UPSTREAM_CALLS_PER_MINUTE)
    throw new BulkheadError(
      'invalid_input',
      `an upstream budget is a whole number of calls per minute from 1 to ${MAX_UPSTREAM_CALLS_PER_MINUTE}, not ${limit}`,
    );
  return limit;
}

export interface UpstreamBudgetsOptions {
  redis: Redis;
  prefix: string;
}

/** Every upstream with a budget, by name (calls per minute). */
export async function listUpstreamBudgets(options: UpstreamBudgetsOptions): Promise<Record<string, number>> {
  const all = await options.redis.hgetall(upstreamBudgetsKey(options.prefix));
  return Object.fromEntries(Object.entries(all).map(([name, value]) => [name, Number(value)]));
}

/** Sets an upstream's budget, or removes it (`null`: the upstream no longer limits). */
export async function setUpstreamBudget(
  options: UpstreamBudgetsOptions & { upstream: string; callsPerMinute: number | null },
): Promise<void> {
  const key = upstreamBudgetsKey(options.prefix);
  const name = checkedUpstreamName(options.upstream);
  if (options.callsPerMinute === null) {
    await options.redis.hdel(key, name);
    return;
  }
  await options.redis.hset(key, name, String(checkedUpstreamLimit(options.callsPerMinute)));
}

/**
 * Charges one request to an upstream's shared budget (the egress gateway, before it forwards a
 * pack's request): admitted and charged, or refused with the layer's `retry_after_ms`
 * (`rateLimitError(decision)` is the structured error). An upstream with no budget admits.
 */
export function chargeUpstream(
  options: UpstreamBudgetsOptions & { upstream: string },
): Promise<RateDecision> {
  const limiter = new RateLimiter({ redis: options.redis, prefix: options.prefix });
  return limiter.takeUpstreams([checkedUpstreamName(options.upstream)]);
}

/**
 * Gives back one call `chargeUpstream` admitted that never reached the upstream (an egress
 * gateway's request it refused after its charge, or that never connected): exact
 * whatever else was charged meanwhile (kernel/redis/lua/upstream-refund.lua). False when there was
 * nothing to give back: the upstream has no budget, or its budget is full again.
 */
export async function refundUpstream(
  options: UpstreamBudgetsOptions & { upstream: string },
): Promise<boolean> {
  const upstream = checkedUpstreamName(options.upstream);
  const given = await redisScripts(options.redis).upstreamRefund(
    {
      upstream: upstreamRateKey(options.prefix, upstream),
      upstreamBudgets: upstreamBudgetsKey(options.prefix),
    },
    { name: upstream },
  );
  return given === 1;
}
