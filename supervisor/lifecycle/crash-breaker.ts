// Crash-loop backoff as a circuit, per tenant: after `threshold` failures (crash, failed start,
// failed health) inside `windowMs`, the circuit opens and every ensure fails at once with the time
// until the next attempt, instead of recreating a container that will crash again (no retry storm).
// The backoff doubles with every failure while open, up to `maxBackoffMs`. A start that comes up
// forgets the failed starts before it, but not the crashes (ends) of runtimes that had come up: a
// runtime that answers its first probe and then ends, again and again, is a crash loop too, and a
// start's success between its ends must not reset the count, or the circuit never opens for it.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

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

export interface CrashBreakerOptions {
  threshold?: number;
  windowMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
}

interface TenantFailures {
  /** Failed starts, forgotten by the next start that comes up. */
  times: number[];
  /** Ends of runtimes that had come up, kept for the window whatever comes up after them. */
  crashes: number[];
  openUntil: number;
}

export class CrashBreaker {
  private readonly failures = new Map<string, TenantFailures>();
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;

  constructor(options: CrashBreakerOptions = {}) {
    this.threshold = options.threshold ?? 3;
    this.windowMs = options.windowMs ?? 60_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 2_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.now = options.now ?? Date.now;
    if (this.threshold < 1 || this.baseBackoffMs <= 0)
      throw new BulkheadError('invalid_config', 'invalid crash breaker options');
  }

  /** Throws CircuitOpenError while the tenant is backing off. */
  check(tenantId: string): void {
    const entry = this.failures.get(tenantId);
    const now = this.now();
    if (entry && entry.openUntil > now) throw new CircuitOpenError(tenantId, entry.openUntil - now);
  }

  /** Records a failed start; returns the backoff now in force (0 while under the threshold). */
  failure(tenantId: string): number {
    return this.count(tenantId, 'times');
  }

  /** Records the end of a runtime that had come up (crash, or an end nobody asked for). */
  crash(tenantId: string): number {
    return this.count(tenantId, 'crashes');
  }

  private count(tenantId: string, kind: 'times' | 'crashes'): number {
    const now = this.now();
    const entry = this.failures.get(tenantId) ?? { times: [], crashes: [], openUntil: 0 };
    entry.times = entry.times.filter((t) => now - t < this.windowMs);
    entry.crashes = entry.crashes.filter((t) => now - t < this.windowMs);
    entry[kind].push(now);
    this.failures.set(tenantId, entry);
    const over = entry.times.length + entry.crashes.length - this.threshold;
    if (over < 0) return 0;
    const backoff = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(over, 20));
    entry.openUntil = now + backoff;
    return backoff;
  }

  /** A start came up: the circuit closes and the failed starts are forgotten, the crashes in the window are not. */
  success(tenantId: string): void {
    const entry = this.failures.get(tenantId);
    const now = this.now();
    const crashes = entry?.crashes.filter((t) => now - t < this.windowMs) ?? [];
    if (crashes.length === 0) this.failures.delete(tenantId);
    else this.failures.set(tenantId, { times: [], crashes, openUntil: 0 });
  }

  /** Everything about the tenant forgotten (it was offboarded). */
  forget(tenantId: string): void {
    this.failures.delete(tenantId);
  }

  isOpen(tenantId: string): boolean {
    return (this.failures.get(tenantId)?.openUntil ?? 0) > this.now();
  }
}
