// Crash-loop backoff as a circuit, per tenant: after `threshold` failures (crash, failed start,
// failed health) inside `windowMs`, the circuit opens and every ensure fails at once with the time
// until the next attempt, instead of recreating a container that will crash again (no retry storm).
// The backoff doubles with every failure while open, up to `maxBackoffMs`; one success closes it.
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
  times: number[];
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

  /** Records a failure; returns the backoff now in force (0 while under the threshold). */
  failure(tenantId: string): number {
    const now = this.now();
    const entry = this.failures.get(tenantId) ?? { times: [], openUntil: 0 };
    entry.times = [...entry.times.filter((t) => now - t < this.windowMs), now];
    this.failures.set(tenantId, entry);
    const over = entry.times.length - this.threshold;
    if (over < 0) return 0;
    const backoff = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(over, 20));
    entry.openUntil = now + backoff;
    return backoff;
  }

  success(tenantId: string): void {
    this.failures.delete(tenantId);
  }

  isOpen(tenantId: string): boolean {
    return (this.failures.get(tenantId)?.openUntil ?? 0) > this.now();
  }
}
