// The router's read-only view of the tenant registry, cached for a few seconds so that the hot
// path does not hit Redis on every request. When Redis does not answer, the last record read is
// served for up to `staleIfErrorMs` past its expiry (so that a call gets as far as the pipeline,
// which answers it `state_unavailable` or, for a fail-open shared read, serves it:
// router/pipeline/state-guard.ts); a tenant not read within that time is refused the same way.
// Every read past the cache's time goes to Redis; only the parse is skipped when the stored text
// is the one parsed last. The first request after a quiet spell paid 0.3 to 0.8 ms for it, the
// schema's code cold by then (docs/performance-router.md, "The tenant record after a quiet spell").
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { parseTenantRecord } from '../../kernel/registry/tenant-registry.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

export interface TenantLookup {
  get(id: string): Promise<TenantRecord | undefined>;
}

/** Where the directory reads a tenant's record: its stored text, null for no such tenant. */
export interface TenantRecordSource {
  text(id: string): Promise<string | null>;
}

interface Cached {
  record: TenantRecord | undefined;
  /** The stored text the record was parsed from. */
  text: string | null;
  until: number;
}

export class TenantDirectory implements TenantLookup {
  private readonly cache = new Map<string, Cached>();
  private readonly source: TenantRecordSource;
  private readonly ttlMs: number;
  private readonly staleIfErrorMs: number;

  constructor(options: { source: TenantRecordSource; ttlMs?: number; staleIfErrorMs?: number }) {
    this.source = options.source;
    this.ttlMs = options.ttlMs ?? 2_000;
    this.staleIfErrorMs = options.staleIfErrorMs ?? 60_000;
  }

  /** Drops a cached record, so that the next read sees a change already observed elsewhere. */
  invalidate(id: string): void {
    this.cache.delete(id);
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    const hit = this.cache.get(id);
    if (hit && hit.until > Date.now()) return hit.record;
    let text: string | null;
    let record: TenantRecord | undefined;
    try {
      text = await this.source.text(id);
      // An unchanged text is the same record: the one parsed from it is served again.
      record = hit && hit.text === text ? hit.record : text ? parseTenantRecord(text) : undefined;
    } catch {
      if (hit && hit.until + this.staleIfErrorMs > Date.now()) return hit.record;
      throw new BulkheadError('state_unavailable', 'the tenant registry (Redis) did not answer', {
        retryAfterMs: 1_000,
      });
    }
    this.cache.set(id, { record, text, until: Date.now() + this.ttlMs });
    return record;
  }
}
