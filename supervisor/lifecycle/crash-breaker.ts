// Crash-loop backoff as a circuit, per tenant: after `threshold` failures (crash, failed start,
// failed health) inside `windowMs`, the circuit opens and every ensure fails at once with the time
// until the next attempt, instead of recreating a container that will crash again (no retry storm).
// The backoff doubles with every failure while open, up to `maxBackoffMs`. A start that comes up
// forgets the failed starts before it, but not the crashes (ends) of runtimes that had come up: a
// runtime that answers its first probe and then ends, again and again, is a crash loop too, and a
// start's success between its ends must not reset the count, or the circuit never opens for it.
//
// With a `store` (circuit-store.ts) the record outlives the process: every failure is written
// through (one round trip, on the failure path only), a start that comes up writes only when it
// has failed starts to forget, and a restarted supervisor loads what is in force (`load`) before it
// takes work, so it goes on backing off where the one before it was. Checks read memory only.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

export class CircuitOpenError extends BulkheadError<'runtime_backoff'> {
  declare readonly retryAfterMs: number;
  constructor(tenantId: string, retryAfterMs: number) {
    super(
      'runtime_backoff',
      `tenant ${tenantId} runtime is crash-looping; next attempt in ${retryAfterMs} ms`,
      {
        retryAfterMs,
      },
    );
  }
}

/**
 * Whose circuit: the tenant's id and its record's creation time. A tenant offboarded and onboarded
 * again under the id starts with a closed circuit, not the failures of the one before it.
 */
export type CircuitTenant = Pick<TenantRecord, 'id' | 'createdAt'>;

/** One tenant's failures, times in ms since the epoch. */
export interface CircuitRecord {
  /** Failed starts, forgotten by the next start that comes up. */
  times: number[];
  /** Ends of runtimes that had come up, kept for the window whatever comes up after them. */
  crashes: number[];
  openUntil: number;
  /**
   * The runtime end counted last (its container and exit time): a restarted supervisor that finds
   * that runtime still stopped does not count its end a second time.
   */
  lastEnd?: string | undefined;
}

/** Where the records outlive the process (circuit-store.ts); its writes never throw. */
export interface CircuitStore {
  /** The records of these tenants still in force, by tenant id. */
  load(tenants: readonly CircuitTenant[]): Promise<Map<string, CircuitRecord>>;
  /** Kept for `ttlMs`, after which nothing in it counts any more. */
  save(tenant: CircuitTenant, record: CircuitRecord, ttlMs: number): Promise<void>;
  remove(tenant: CircuitTenant): Promise<void>;
}

export interface CrashBreakerOptions {
  threshold?: number;
  windowMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
  store?: CircuitStore;
}

type Entry = CircuitRecord & { createdAt: string };

export class CrashBreaker {
  private readonly failures = new Map<string, Entry>();
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;
  private readonly store: CircuitStore | undefined;

  constructor(options: CrashBreakerOptions = {}) {
    this.threshold = options.threshold ?? 3;
    this.windowMs = options.windowMs ?? 60_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 2_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.store = options.store;
    if (this.threshold < 1 || this.baseBackoffMs <= 0)
      throw new BulkheadError('invalid_config', 'invalid crash breaker options');
  }

  /** What the store holds for these tenants (a restarted supervisor's, before it takes work). */
  async load(tenants: readonly CircuitTenant[]): Promise<void> {
    if (!this.store) return;
    const records = await this.store.load(tenants);
    for (const tenant of tenants) {
      const record = records.get(tenant.id);
      if (record) this.failures.set(tenant.id, { ...record, createdAt: tenant.createdAt });
    }
  }

  /** Throws CircuitOpenError while the tenant is backing off. */
  check(tenant: CircuitTenant): void {
    const openUntil = this.entry(tenant)?.openUntil ?? 0;
    const now = this.now();
    if (openUntil > now) throw new CircuitOpenError(tenant.id, openUntil - now);
  }

  /**
   * Records a failed start (`end`: the exit it ended with, if it was seen); returns the backoff now
   * in force (0 while under the threshold).
   */
  async failure(tenant: CircuitTenant, end?: string): Promise<number> {
    return this.count(tenant, 'times', end);
  }

  /** Records `end`, the end of a runtime that had come up (crash, or an end nobody asked for), once. */
  async crash(tenant: CircuitTenant, end: string): Promise<number> {
    if (this.entry(tenant)?.lastEnd === end) return 0;
    return this.count(tenant, 'crashes', end);
  }

  private async count(tenant: CircuitTenant, kind: 'times' | 'crashes', end?: string): Promise<number> {
    const now = this.now();
    const entry = this.entry(tenant) ?? { times: [], crashes: [], openUntil: 0, createdAt: tenant.createdAt };
    entry.times = entry.times.filter((t) => now - t < this.windowMs);
    entry.crashes = entry.crashes.filter((t) => now - t < this.windowMs);
    entry[kind].push(now);
    if (end !== undefined) entry.lastEnd = end;
    this.failures.set(tenant.id, entry);
    const over = entry.times.length + entry.crashes.length - this.threshold;
    const backoff = over < 0 ? 0 : Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(over, 20));
    if (backoff > 0) entry.openUntil = now + backoff;
    await this.persist(tenant, entry);
    return backoff;
  }

  /** A start came up: the circuit closes and the failed starts are forgotten, the crashes in the window are not. */
  async success(tenant: CircuitTenant): Promise<void> {
    const entry = this.entry(tenant);
    if (!entry) return;
    const now = this.now();
    const crashes = entry.crashes.filter((t) => now - t < this.windowMs);
    // Nothing the store holds changes (no failed start, never opened): no write.
    const changed = entry.times.length > 0 || entry.openUntil > 0;
    const kept = { ...entry, times: [], crashes, openUntil: 0 };
    if (crashes.length === 0) this.failures.delete(tenant.id);
    else this.failures.set(tenant.id, kept);
    if (changed) await this.persist(tenant, kept);
  }

  /** Everything about the tenant forgotten (it was offboarded). */
  async forget(tenantId: string): Promise<void> {
    const entry = this.failures.get(tenantId);
    this.failures.delete(tenantId);
    if (entry) await this.store?.remove({ id: tenantId, createdAt: entry.createdAt });
  }

  isOpen(tenant: CircuitTenant): boolean {
    return (this.entry(tenant)?.openUntil ?? 0) > this.now();
  }

  /** The tenant's entry; one of an earlier tenant of the same id is none. */
  private entry(tenant: CircuitTenant): Entry | undefined {
    const entry = this.failures.get(tenant.id);
    return entry?.createdAt === tenant.createdAt ? entry : undefined;
  }

  /** Written with the time it counts for: its last failure's window, or its backoff if longer. */
  private async persist(tenant: CircuitTenant, entry: Entry): Promise<void> {
    if (!this.store) return;
    const { times, crashes, openUntil, lastEnd } = entry;
    const until = Math.max(
      openUntil,
      ...times.map((t) => t + this.windowMs),
      ...crashes.map((t) => t + this.windowMs),
    );
    const ttlMs = until - this.now();
    if (ttlMs > 0) await this.store.save(tenant, { times, crashes, openUntil, lastEnd }, ttlMs);
    else await this.store.remove(tenant);
  }
}
