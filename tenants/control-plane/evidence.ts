// The latest isolation evidence of each tenant, kept so that a reviewer can read it later (the
// console's evidence page) without starting a new check: `verifyTenant` saves every report it makes.
// A report is kept with the `createdAt` of the tenant record it was made for, only while that record
// is there, and read only for it: a verify that read the record before an offboarding finishes after
// the offboarding forgot the tenant's evidence (or the offboarding stopped between the record's
// delete and the forget), and the id onboarded again would otherwise show that report, about a
// container now gone, as the evidence of a tenant never checked.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { evidenceKey, tenantKey } from '../../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../../kernel/redis/scripts.ts';
import { IsolationReportSchema, type IsolationReport } from '../../supervisor/client/isolation-report.ts';

const KeptSchema = z.object({ tenantCreatedAt: z.string(), report: IsolationReportSchema });

export class EvidenceStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #scripts: RedisScripts;

  constructor(options: { redis: Redis; prefix: string }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#scripts = redisScripts(options.redis);
  }

  /**
   * Keeps the report as the latest of the tenant whose record has this `createdAt`, if that record
   * is still there; false when it is not (offboarded meanwhile: nothing kept).
   */
  async save(report: IsolationReport, tenantCreatedAt: string): Promise<boolean> {
    const kept: z.infer<typeof KeptSchema> = { tenantCreatedAt, report };
    const saved = await this.#scripts.evidenceSave(
      {
        record: tenantKey(this.#prefix, report.tenantId),
        evidence: evidenceKey(this.#prefix, report.tenantId),
      },
      { tenantCreatedAt, kept: JSON.stringify(kept) },
    );
    return saved === 1;
  }

  /**
   * The last report saved for the tenant whose record has this `createdAt`; null when none was
   * made for it (one kept for an earlier tenant of the id, or in the format before the record's
   * `createdAt` was kept with it, is not this tenant's evidence).
   */
  async latest(tenant: string, tenantCreatedAt: string): Promise<IsolationReport | null> {
    const raw = await this.#redis.get(evidenceKey(this.#prefix, tenant));
    if (raw === null) return null;
    const value = JSON.parse(raw) as unknown;
    // Kept before the record's createdAt was kept with it: whose report it is cannot be told.
    if (typeof value === 'object' && value !== null && !('tenantCreatedAt' in value)) return null;
    const kept = KeptSchema.parse(value);
    return kept.tenantCreatedAt === tenantCreatedAt ? kept.report : null;
  }

  async forget(tenant: string): Promise<void> {
    await this.#redis.del(evidenceKey(this.#prefix, tenant));
  }
}
