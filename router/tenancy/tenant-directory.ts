// The router's read-only view of the tenant registry, cached for a few seconds so that the hot
// path does not hit Redis on every request. When Redis does not answer, the last record read is
// served for up to `staleIfErrorMs` past its expiry (so that a call gets as far as the pipeline,
// which answers it `state_unavailable` or, for a fail-open shared read, serves it:
// router/pipeline/state-guard.ts); a tenant not read within that time is refused the same way.
// Bounded: the ids asked for come from verified tokens, and an issuer may sign any number of ids
// that name no tenant; past `maxEntries` the oldest entry goes (it costs one read more).
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

export interface TenantLookup {
  get(id: string): Promise<TenantRecord | undefined>;
}

export class TenantDirectory implements TenantLookup {
  private readonly cache = new Map<string, { record: TenantRecord | undefined; until: number }>();
  private readonly source: TenantLookup;
  private readonly ttlMs: number;
  private readonly staleIfErrorMs: number;
  private readonly maxEntries: number;

  constructor(options: {
    source: TenantLookup;
    ttlMs?: number;
    staleIfErrorMs?: number;
    maxEntries?: number;
  }) {
    this.source = options.source;
    this.ttlMs = options.ttlMs ?? 2_000;
    this.staleIfErrorMs = options.staleIfErrorMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Tenants (and ids of none) remembered now. */
  get size(): number {
    return this.cache.size;
  }

  /** Drops a cached record, so that the next read sees a change already observed elsewhere. */
  invalidate(id: string): void {
    this.cache.delete(id);
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    const hit = this.cache.get(id);
    if (hit && hit.until > Date.now()) return hit.record;
    let record: TenantRecord | undefined;
    try {
      record = await this.source.get(id);
    } catch {
      if (hit && hit.until + this.staleIfErrorMs > Date.now()) return hit.record;
      throw new BulkheadError('state_unavailable', 'the tenant registry (Redis) did not answer', {
        retryAfterMs: 1_000,
      });
    }
    if (!hit && this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(id, { record, until: Date.now() + this.ttlMs });
    return record;
  }
}
