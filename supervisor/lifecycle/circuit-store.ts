// Where the crash circuit (crash-breaker.ts) keeps each tenant's failures, so that a restarted
// supervisor goes on backing off a crash-looping tenant instead of starting it again as if new: a
// string per tenant, named with its record's creation time (a tenant onboarded again under the id
// has a circuit of its own), expiring when nothing in it counts any more (at most the backoff's
// maximum or the failure window, whichever is longer). A write that fails is logged, not thrown:
// the circuit in memory holds for this process either way.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { crashCircuitKey } from '../../kernel/redis/keys.ts';
import { jsonOrUndefined } from '../../kernel/wire/json-text.ts';
import type { CircuitRecord, CircuitStore, CircuitTenant } from './crash-breaker.ts';

const CircuitRecordSchema = z.strictObject({
  times: z.array(z.number()),
  crashes: z.array(z.number()),
  openUntil: z.number(),
  lastEnd: z.string().optional(),
});

export class RedisCircuitStore implements CircuitStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly logger: Logger;

  constructor(options: { redis: Redis; prefix: string; logger: Logger }) {
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.logger = options.logger;
  }

  /** One round trip for every tenant; a value that does not parse (another version's) is dropped. */
  async load(tenants: readonly CircuitTenant[]): Promise<Map<string, CircuitRecord>> {
    const records = new Map<string, CircuitRecord>();
    if (tenants.length === 0) return records;
    const values = await this.redis.mget(tenants.map((tenant) => this.key(tenant)));
    for (const [at, tenant] of tenants.entries()) {
      const value = values[at];
      const parsed = value ? CircuitRecordSchema.safeParse(jsonOrUndefined(value)) : undefined;
      if (parsed?.success) records.set(tenant.id, parsed.data);
    }
    return records;
  }

  async save(tenant: CircuitTenant, record: CircuitRecord, ttlMs: number): Promise<void> {
    await this.redis
      .set(this.key(tenant), JSON.stringify(record), 'PX', Math.ceil(ttlMs))
      .catch((error: unknown) =>
        this.logger.warn({ err: error, tenant: tenant.id }, 'crash circuit not stored'),
      );
  }

  async remove(tenant: CircuitTenant): Promise<void> {
    await this.redis
      .del(this.key(tenant))
      .catch((error: unknown) =>
        this.logger.warn({ err: error, tenant: tenant.id }, 'crash circuit not removed'),
      );
  }

  private key(tenant: CircuitTenant): string {
    return crashCircuitKey(this.prefix, { tenant: tenant.id, tenantCreatedAt: tenant.createdAt });
  }
}
