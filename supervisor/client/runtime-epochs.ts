// How routers learn that a tenant's runtime changed under them. A paused container's socket still
// accepts connections but never answers, and a stopped one leaves a dead socket behind, so before
// the supervisor pauses, stops, reaps or recycles a runtime it bumps the tenant's epoch in Redis.
// A router re-reads the epoch (one pipelined Redis round trip that also records activity) only
// when its cached route has not been verified for a short while; warm calls pay nothing.
//
// Safety argument: the idle tiers act only on tenants whose recorded activity is older than the
// idle time, and the check and the bump are one atomic script. A router verifies (and records
// activity) at most `freshnessMs` before any call it makes on a cached route, and idle times are
// much longer than `freshnessMs`, so a runtime is never paused under a call a router believes safe.
import type { Redis } from 'ioredis';
import { activityKey, epochKey } from '../../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../../kernel/redis/scripts.ts';

/** A tenant's runtime epoch as stored (0 before the first bump); reading it records no activity. */
async function readEpoch(redis: Redis, prefix: string, tenantId: string): Promise<number> {
  return Number((await redis.get(epochKey(prefix, tenantId))) ?? 0);
}

export interface RuntimeEpochs {
  current(tenantId: string): Promise<number>;
  bump(tenantId: string): Promise<number>;
}

export class RedisRuntimeEpochs implements RuntimeEpochs {
  private readonly redis: Redis;
  private readonly scripts: RedisScripts;
  private readonly prefix: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.scripts = redisScripts(options.redis);
    this.prefix = options.prefix;
  }

  async current(tenantId: string): Promise<number> {
    return readEpoch(this.redis, this.prefix, tenantId);
  }

  async bump(tenantId: string): Promise<number> {
    return this.redis.incr(epochKey(this.prefix, tenantId));
  }

  /**
   * Atomically (kernel/redis/lua/epoch-bump-if-idle.lua): if idle since `idleSince`, bump and return
   * true; else leave it alone.
   */
  async bumpIfIdle(tenantId: string, idleSince: number): Promise<boolean> {
    const epoch = await this.scripts.epochBumpIfIdle(
      { activity: activityKey(this.prefix), epoch: epochKey(this.prefix, tenantId) },
      { tenant: tenantId, idleSince },
    );
    return epoch >= 0;
  }

  /** Tenants with recorded activity, with the time of their last call. */
  async activity(): Promise<Map<string, number>> {
    const flat = await this.redis.zrange(activityKey(this.prefix), '0', '-1', 'WITHSCORES');
    const result = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) result.set(flat[i]!, Number(flat[i + 1]));
    return result;
  }

  /** Records activity at `at`, unless a later one is recorded already (GT: it never moves back). */
  async touch(tenantId: string, at = Date.now()): Promise<void> {
    await this.redis.zadd(activityKey(this.prefix), 'GT', at, tenantId);
  }
}

/**
 * The router's side: before a call on a route not verified for `freshnessMs`, record activity and
 * read the epoch in one pipelined round trip. A changed epoch means the route is stale.
 */
export class RouterRuntimeView {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.prefix = options.prefix;
  }

  async touch(tenantId: string): Promise<number> {
    const results = await this.redis
      .pipeline()
      .zadd(activityKey(this.prefix), Date.now(), tenantId)
      .get(epochKey(this.prefix, tenantId))
      .exec();
    const [zadd, get] = results ?? [];
    if (zadd?.[0]) throw zadd[0];
    if (get?.[0]) throw get[0];
    return Number((get?.[1] as string | null) ?? 0);
  }

  /** The epoch alone, recording no activity: the router's own checks must not keep a tenant awake. */
  async epoch(tenantId: string): Promise<number> {
    return readEpoch(this.redis, this.prefix, tenantId);
  }
}
