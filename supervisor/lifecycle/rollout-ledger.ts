// Where the health pass keeps a rollout's state (rollout-guard.ts), so that a restarted supervisor
// goes on as the one before it would have: the replacements that failed (did not come up, or failed
// within their probation window) go on holding the rollout back instead of the new supervisor
// replacing `replacementsPerPass` more working runtimes before it learns again, and the
// replacements still on probation go on being watched. Two Redis hashes per installation, a field
// per tenant: the spec hash its replacement failed on; the probation as JSON.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { rolloutFailuresKey, rolloutProbationKey } from '../../kernel/redis/keys.ts';
import { jsonOrUndefined } from '../../kernel/wire/json-text.ts';

/** A replacement that came up, watched until `until` (ms since the epoch). */
export const ProbationSchema = z.strictObject({
  specHash: z.string(),
  /** The generation the replacement made: a later one on the same spec means it was made again. */
  generation: z.number().int(),
  until: z.number(),
});
export type Probation = z.infer<typeof ProbationSchema>;

export interface RolloutRecords {
  /** Tenant to the spec hash its replacement failed on. */
  failed: Map<string, string>;
  probation: Map<string, Probation>;
}

export interface RolloutLedger {
  load(): Promise<RolloutRecords>;
  setFailed(tenantId: string, specHash: string): Promise<void>;
  deleteFailed(tenantId: string): Promise<void>;
  setProbation(tenantId: string, probation: Probation): Promise<void>;
  deleteProbation(tenantId: string): Promise<void>;
}

export class RedisRolloutLedger implements RolloutLedger {
  private readonly redis: Redis;
  private readonly failedKey: string;
  private readonly probationKey: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.failedKey = rolloutFailuresKey(options.prefix);
    this.probationKey = rolloutProbationKey(options.prefix);
  }

  async load(): Promise<RolloutRecords> {
    const [failed, probation] = await Promise.all([
      this.redis.hgetall(this.failedKey),
      this.redis.hgetall(this.probationKey),
    ]);
    const watched = new Map<string, Probation>();
    // A field that does not parse (written by another version) is dropped, not trusted.
    for (const [tenantId, json] of Object.entries(probation)) {
      const parsed = ProbationSchema.safeParse(jsonOrUndefined(json));
      if (parsed.success) watched.set(tenantId, parsed.data);
    }
    return { failed: new Map(Object.entries(failed)), probation: watched };
  }

  async setFailed(tenantId: string, specHash: string): Promise<void> {
    await this.redis.hset(this.failedKey, tenantId, specHash);
  }

  async deleteFailed(tenantId: string): Promise<void> {
    await this.redis.hdel(this.failedKey, tenantId);
  }

  async setProbation(tenantId: string, probation: Probation): Promise<void> {
    await this.redis.hset(this.probationKey, tenantId, JSON.stringify(probation));
  }

  async deleteProbation(tenantId: string): Promise<void> {
    await this.redis.hdel(this.probationKey, tenantId);
  }
}
