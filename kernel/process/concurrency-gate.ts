// Calls in flight to one tenant's container, per router process (docs/rate-limits.md, "Calls in
// flight"). A container has a small CPU share: past `maxInFlight` calls it only queues them itself,
// so the router holds the next ones here instead, at most `maxQueued` of them and each for at most
// `maxWaitMs`, then refuses with `concurrency_limit` (class rate_limit) and `retry_after_ms`.
// Tenants never share a gate entry, so one tenant's burst does not slow another's calls. Per process,
// not across replicas: what it protects is the container's CPU, and each replica's share is bounded.
// The egress gateway bounds each tenant's host-name lookups with one too (egress/name-lookup.ts):
// the same lanes, the slot passed straight to the first waiter.
import { BulkheadError } from '../errors/bulkhead-error.ts';

export interface ConcurrencyGateOptions {
  maxInFlight: number;
  maxQueued: number;
  maxWaitMs: number;
}

// The wait covers a cold start: the first calls of an idle tenant wait for its container to start
// (seconds, more under gVisor), and the calls queued behind them should not be refused for that.
export const CONCURRENCY_DEFAULTS: ConcurrencyGateOptions = {
  maxInFlight: 8,
  maxQueued: 16,
  maxWaitMs: 10_000,
};

interface Waiter {
  admit(): void;
  timer: NodeJS.Timeout;
}

interface Lane {
  inFlight: number;
  queue: Waiter[];
  /** Calls waiting aside, without a slot (tryWaitAside). */
  aside: number;
}

/** Hands the slot back; call it exactly once, when the call is answered. */
export type Release = () => void;

export class ConcurrencyGate {
  private readonly options: ConcurrencyGateOptions;
  private readonly lanes = new Map<string, Lane>();

  constructor(options: Partial<ConcurrencyGateOptions> = {}) {
    this.options = { ...CONCURRENCY_DEFAULTS, ...options };
  }

  /** Calls of `tenant` in flight and waiting now (for tests and diagnostics). */
  load(tenant: string): { inFlight: number; queued: number } {
    const lane = this.lanes.get(tenant);
    return { inFlight: lane?.inFlight ?? 0, queued: lane?.queue.length ?? 0 };
  }

  /** Calls of `tenant` waiting aside now (tryWaitAside; for tests and diagnostics). */
  aside(tenant: string): number {
    return this.lanes.get(tenant)?.aside ?? 0;
  }

  private lane(tenant: string): Lane {
    let lane = this.lanes.get(tenant);
    if (!lane) {
      lane = { inFlight: 0, queue: [], aside: 0 };
      this.lanes.set(tenant, lane);
    }
    return lane;
  }

  /** A slot for one call of `tenant` if one is free now, without waiting; else undefined. */
  tryAcquire(tenant: string): Release | undefined {
    const lane = this.lane(tenant);
    if (lane.inFlight >= this.options.maxInFlight) return undefined;
    lane.inFlight++;
    return this.releaser(tenant, lane);
  }

  /**
   * A place for a call of `tenant` that waits aside, holding no slot, for another call's outcome (a
   * write whose idempotency key another call holds: router/pipeline/call-slot.ts), if fewer than
   * `maxInFlight + maxQueued` wait aside now; else undefined. Such a call reaches no container, but it
   * asks Redis for its key as it waits: this bounds that as the slots bounded it when it held one.
   */
  tryWaitAside(tenant: string): Release | undefined {
    const lane = this.lane(tenant);
    if (lane.aside >= this.options.maxInFlight + this.options.maxQueued) return undefined;
    lane.aside++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      lane.aside--;
      this.dropIfIdle(tenant, lane);
    };
  }

  private dropIfIdle(tenant: string, lane: Lane): void {
    if (lane.inFlight === 0 && lane.aside === 0 && this.lanes.get(tenant) === lane) this.lanes.delete(tenant);
  }

  /** A slot for one call of `tenant`; throws `concurrency_limit` when none comes in time. */
  async acquire(tenant: string): Promise<Release> {
    const free = this.tryAcquire(tenant);
    if (free) return free;
    const lane = this.lane(tenant);
    const release = this.releaser(tenant, lane);
    if (lane.queue.length >= this.options.maxQueued) throw this.refusal('its wait queue is full');
    const queue = lane.queue;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1);
          reject(this.refusal(`no slot came free within ${this.options.maxWaitMs} ms`));
        }, this.options.maxWaitMs),
      };
      queue.push(waiter);
    });
    return release;
  }

  private releaser(tenant: string, lane: Lane): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the first waiter: inFlight stays, nobody can overtake it.
      const next = lane.queue.shift();
      if (next) {
        next.admit();
        return;
      }
      lane.inFlight--;
      this.dropIfIdle(tenant, lane);
    };
  }

  private refusal(why: string): BulkheadError<'concurrency_limit'> {
    const { maxInFlight, maxQueued } = this.options;
    return new BulkheadError(
      'concurrency_limit',
      `the tenant already has ${maxInFlight} calls in flight through this router and ${why}; retry later`,
      {
        retryAfterMs: this.options.maxWaitMs,
        details: { layer: 'concurrency', limit: maxInFlight, queue: maxQueued },
      },
    );
  }
}
