// The router's read-only view of the tenant registry, cached for a few seconds so that the hot
// path does not hit Redis on every request.
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

export interface TenantLookup {
  get(id: string): Promise<TenantRecord | undefined>;
}

export class TenantDirectory implements TenantLookup {
  private readonly cache = new Map<string, { record: TenantRecord | undefined; until: number }>();
  private readonly source: TenantLookup;
  private readonly ttlMs: number;

  constructor(options: { source: TenantLookup; ttlMs?: number }) {
    this.source = options.source;
    this.ttlMs = options.ttlMs ?? 2_000;
  }

  /** Drops a cached record, so that the next read sees a change already observed elsewhere. */
  invalidate(id: string): void {
    this.cache.delete(id);
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    const hit = this.cache.get(id);
    if (hit && hit.until > Date.now()) return hit.record;
    const record = await this.source.get(id);
    this.cache.set(id, { record, until: Date.now() + this.ttlMs });
    return record;
  }
}
