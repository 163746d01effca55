// "Once per wait, per caller": what bounds the traces a caller looping past its rate limits leaves.
// A `rate_limit_exceeded` refusal tells its caller how long to wait (`retry_after_ms`); another one
// of the same caller (tenant and agent) before that wait has passed is the same refusal asked again.
// The first is let through, then at most one per wait, each with how many were held back since, so
// what a loop leaves is bounded by how fast its budgets refill, not by how fast it sends. Used for
// the log (refusal-log.ts). The audit trail's bound (router/mcp/repeated-refusals.ts) keeps a memory
// of its own with the same rule, as it also keeps the tools named and writes out what it held back
// once a wait passes. Per router process, in memory; the callers remembered are bounded (the least
// recently let through are forgotten first: at worst one is let through again, its count lost).
import type { Principal } from '../identity/principal.ts';

/** Callers remembered at most. */
const DEFAULT_MAX_CALLERS = 10_000;

export interface OncePerWaitOptions {
  maxCallers?: number;
  now?: () => number;
}

export class OncePerWait {
  /** A caller to the end of the wait its last one let through was given, and how many were held since. */
  readonly #waits = new Map<string, { until: number; held: number }>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: OncePerWaitOptions = {}) {
    this.#max = options.maxCallers ?? DEFAULT_MAX_CALLERS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * One refusal of `caller`, told to wait `waitMs`: undefined to hold it back (the wait the last one
   * let through was given has not passed; it is counted), or how many were held back since that one
   * (0 for the caller's first) to let it through.
   */
  pass(caller: Pick<Principal, 'tenant' | 'agent'>, waitMs: number): number | undefined {
    const key = JSON.stringify([caller.tenant, caller.agent]);
    const now = this.#now();
    const last = this.#waits.get(key);
    if (last !== undefined && now < last.until) {
      last.held += 1;
      return undefined;
    }
    this.#waits.delete(key);
    this.#waits.set(key, { until: now + Math.max(0, waitMs), held: 0 });
    if (this.#waits.size > this.#max) this.#waits.delete(this.#waits.keys().next().value as string);
    return last?.held ?? 0;
  }
}
