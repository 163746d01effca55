// The latest isolation evidence of each tenant, kept so that a reviewer can read it later (the
// console's evidence page) without starting a new check: `verifyTenant` saves every report it makes.
import type { Redis } from 'ioredis';
import { evidenceKey } from '../../kernel/redis/keys.ts';
import { IsolationReportSchema, type IsolationReport } from '../../supervisor/client/isolation-report.ts';

export class EvidenceStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
  }

  async save(report: IsolationReport): Promise<void> {
    await this.#redis.set(evidenceKey(this.#prefix, report.tenantId), JSON.stringify(report));
  }

  /** The last report saved for the tenant; null when none was ever made. */
  async latest(tenant: string): Promise<IsolationReport | null> {
    const raw = await this.#redis.get(evidenceKey(this.#prefix, tenant));
    return raw === null ? null : IsolationReportSchema.parse(JSON.parse(raw));
  }

  async forget(tenant: string): Promise<void> {
    await this.#redis.del(evidenceKey(this.#prefix, tenant));
  }
}
