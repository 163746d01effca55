// Where the health pass keeps the replacements that failed (rollout-guard.ts: did not come up, or
// failed within the probation window), so that a restarted supervisor goes on holding a broken
// rollout back instead of replacing `replacementsPerPass` more working runtimes before it learns
// again. One Redis hash per installation, a field per tenant: the spec hash its replacement failed on.
import type { Redis } from 'ioredis';
import { rolloutFailuresKey } from '../../kernel/redis/keys.ts';

export interface RolloutLedger {
  /** Every failed replacement kept, tenant to spec hash. */
  load(): Promise<Map<string, string>>;
  set(tenantId: string, specHash: string): Promise<void>;
  delete(tenantId: string): Promise<void>;
}

export class RedisRolloutLedger implements RolloutLedger {
  private readonly redis: Redis;
  private readonly key: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.key = rolloutFailuresKey(options.prefix);
  }

  async load(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.key)));
  }

  async set(tenantId: string, specHash: string): Promise<void> {
    await this.redis.hset(this.key, tenantId, specHash);
  }

  async delete(tenantId: string): Promise<void> {
    await this.redis.hdel(this.key, tenantId);
  }
}
