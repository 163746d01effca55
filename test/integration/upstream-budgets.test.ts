// The upstream layer on real Redis (kernel/ratelimit/upstream-budgets.ts, the upstream slots of
// kernel/redis/lua/rate-limit.lua): a downstream API's budget is shared by every tenant whose calls
// use it, over separate connections; it is charged all-or-none with the call's other layers; the
// egress gateway's charge (chargeUpstream) spends the same budget; a budget changed by an operator
// applies to the next call; an upstream with no budget does not limit; a call the gateway gives back
// (refundUpstream) is one call less, exactly, among other connections' charges.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Quotas } from '../../kernel/tenant/tenant-spec.ts';
import { RateLimiter, rateLimitError, type RateScope } from '../../kernel/ratelimit/rate-limiter.ts';
import {
  chargeUpstream,
  listUpstreamBudgets,
  refundUpstream,
  setUpstreamBudget,
} from '../../kernel/ratelimit/upstream-budgets.ts';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redisA: Redis;
let redisB: Redis;
let limiterA: RateLimiter;
let limiterB: RateLimiter;
let prefix: string;

beforeAll(async () => {
  ns = await testNamespace('upstreams');
  redisA = new Redis(ns.installation.redis);
  redisB = new Redis(ns.installation.redis);
  prefix = ns.installation.registryPrefix;
  limiterA = new RateLimiter({ redis: redisA, prefix });
  limiterB = new RateLimiter({ redis: redisB, prefix });
});

afterAll(async () => {
  redisA?.disconnect();
  redisB?.disconnect();
  await ns?.cleanup();
});

// The day's budget refills one call per 86 s: what a test reads of it does not move while it runs.
const QUOTAS: Quotas = { callsPerMinute: 1000, callsPerDay: 1000, agentCallsPerMinute: 1000 };
const CREATED_AT = '2026-12-01T00:00:00.000Z';

function scope(tenant: string, upstreams: string[], quotas: Quotas = QUOTAS): RateScope {
  return {
    principal: { tenant, agent: 'agent', user: null },
    tenant: { createdAt: CREATED_AT, quotas },
    tool: { name: 'geo_lookup', upstreams },
  };
}

describe('upstream budgets (real Redis)', () => {
  it('shares one budget between two tenants, exactly, across connections', async () => {
    await setUpstreamBudget({ redis: redisA, prefix, upstream: 'maps', callsPerMinute: 20 });
    const decisions = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? limiterA : limiterB).take(scope(i % 2 ? 'tenant-a' : 'tenant-b', ['maps'])),
      ),
    );
    expect(decisions.filter((d) => d.admitted)).toHaveLength(20);
    const refused = decisions.filter((d) => !d.admitted);
    expect(refused).toHaveLength(40);
    const { error } = rateLimitError(refused[0]!).structuredContent;
    expect(error).toMatchObject({
      code: 'rate_limit_exceeded',
      details: { layer: 'upstream', upstream: 'maps', limit: 20, remaining: 0 },
    });
    expect(error.retry_after_ms).toBeGreaterThan(0);
    // Both tenants were admitted some, and refused some: the budget is not per tenant.
    const admittedBy = (odd: number): number =>
      decisions.filter((d, i) => d.admitted && i % 2 === odd).length;
    expect(admittedBy(0) + admittedBy(1)).toBe(20);
    // The tenants' own budgets paid only for their admitted calls.
    const lookA = await limiterA.peek({
      principal: { tenant: 'tenant-a', agent: 'agent', user: null },
      tenant: { createdAt: CREATED_AT, quotas: QUOTAS },
    });
    expect(lookA.layers.find((l) => l.layer === 'tenant_day')?.remaining).toBe(1000 - admittedBy(1));
  });

  it("charges a call's upstreams all-or-none with its other layers, and the gateway's charge spends the same budget", async () => {
    await setUpstreamBudget({ redis: redisA, prefix, upstream: 'search', callsPerMinute: 3 });
    await setUpstreamBudget({ redis: redisA, prefix, upstream: 'billing', callsPerMinute: 50 });
    // Two requests of a pack through the egress gateway, then one router call naming both upstreams.
    expect((await chargeUpstream({ redis: redisB, prefix, upstream: 'search' })).admitted).toBe(true);
    expect((await chargeUpstream({ redis: redisB, prefix, upstream: 'search' })).admitted).toBe(true);
    const call = await limiterA.take(scope('tenant-c', ['billing', 'search']));
    expect(call.admitted).toBe(true);
    expect(call.layers.filter((l) => l.layer === 'upstream').map((l) => [l.upstream, l.remaining])).toEqual([
      ['billing', 49],
      ['search', 0],
    ]);
    const refused = await limiterA.take(scope('tenant-d', ['billing', 'search']));
    expect(refused.refusedBy).toMatchObject({ layer: 'upstream', upstream: 'search' });
    const gateway = await chargeUpstream({ redis: redisB, prefix, upstream: 'search' });
    expect(gateway.admitted).toBe(false);
    // The refused call charged neither billing nor tenant-d's own budget.
    const billing = await limiterB.takeUpstreams(['billing'], { peek: true });
    expect(billing.layers[0]).toMatchObject({ upstream: 'billing', remaining: 49 });
    const lookD = await limiterB.peek({
      principal: { tenant: 'tenant-d', agent: 'agent', user: null },
      tenant: { createdAt: CREATED_AT, quotas: QUOTAS },
    });
    expect(lookD.layers.find((l) => l.layer === 'tenant_day')?.remaining).toBe(1000);
  });

  it('applies a changed budget to the next call; an upstream without one does not limit', async () => {
    const take = (): Promise<boolean> =>
      limiterA.take(scope('tenant-e', ['weather'])).then((d) => d.admitted);
    for (let i = 0; i < 5; i++) expect(await take()).toBe(true);
    await setUpstreamBudget({ redis: redisB, prefix, upstream: 'weather', callsPerMinute: 1 });
    expect(await take()).toBe(true);
    expect(await take()).toBe(false);
    await setUpstreamBudget({ redis: redisB, prefix, upstream: 'weather', callsPerMinute: null });
    expect(await take()).toBe(true);
    expect(await listUpstreamBudgets({ redis: redisA, prefix })).toEqual({
      maps: 20,
      search: 3,
      billing: 50,
    });
  });

  it('gives back one call exactly, whatever other connections charged meanwhile; nothing past full', async () => {
    // One call per 10 s: the budget read does not move while the test runs.
    await setUpstreamBudget({ redis: redisA, prefix, upstream: 'geo', callsPerMinute: 6 });
    const charge = (redis: Redis) => chargeUpstream({ redis, prefix, upstream: 'geo' });
    const refund = (redis: Redis, upstream = 'geo') => refundUpstream({ redis, prefix, upstream });
    // Nothing to give back: the budget is full, or there is none.
    expect(await refund(redisA)).toBe(false);
    expect(await refund(redisA, 'unmetered')).toBe(false);
    await charge(redisA);
    await charge(redisB);
    await charge(redisA);
    // A refund among other connections' charges, in whatever order Redis takes them.
    const [given] = await Promise.all([refund(redisB), charge(redisA), charge(redisB)]);
    expect(given).toBe(true);
    const remaining = async () =>
      (await limiterA.takeUpstreams(['geo'], { peek: true })).layers[0]?.remaining;
    expect(await remaining()).toBe(6 - 4);
    for (let i = 0; i < 4; i++) expect(await refund(i % 2 ? redisA : redisB)).toBe(true);
    expect(await remaining()).toBe(6);
    expect(await refund(redisA)).toBe(false);
    expect(await remaining()).toBe(6);
  });

  it('refuses an invalid name or budget as operator input', async () => {
    const bad = [
      setUpstreamBudget({ redis: redisA, prefix, upstream: 'Bad Name', callsPerMinute: 5 }),
      setUpstreamBudget({ redis: redisA, prefix, upstream: 'ok', callsPerMinute: 0 }),
      setUpstreamBudget({ redis: redisA, prefix, upstream: 'ok', callsPerMinute: 1.5 }),
    ];
    for (const attempt of bad) {
      const error: unknown = await attempt.catch((e: unknown) => e);
      expect(isBulkheadError(error, 'invalid_input')).toBe(true);
    }
  });
});
