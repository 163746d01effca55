// Which refusals for a spent budget reach the audit trail. A request refused with
// `rate_limit_exceeded` was charged to nothing (that is what the refusal means), yet each one
// appended a record to its tenant's trail: an agent looping past its budget (a tools/call, a
// relayed request, a refused call past its share) grew the trail, and the Redis every tenant
// shares, as fast as it could send, however small its budget. The refusal tells the caller how long
// to wait (`retry_after_ms`); a refusal of the same caller before that wait has passed is the same
// refusal asked again, and is not recorded again: the first is, and then one per wait at most, so
// what a loop past its budget adds to the trail is bounded by how fast its budgets refill. Each is
// still answered, logged and counted (`bulkhead_rate_limit_refusals_total`). Per router process, in
// memory, like the verified-token cache: a caller whose requests spread over N routers leaves up to
// N records a wait. The callers remembered are bounded (the least recently refused are forgotten,
// so at worst one is recorded again).
import type { Principal } from '../identity/principal.ts';

/** Callers remembered at most. */
const DEFAULT_MAX_CALLERS = 10_000;

export class RepeatedRefusals {
  /** A caller (tenant and agent) to the time its last recorded refusal told it to wait until. */
  readonly #until = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { maxCallers?: number; now?: () => number } = {}) {
    this.#max = options.maxCallers ?? DEFAULT_MAX_CALLERS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Whether to record this rate-limit refusal of `caller`, told to wait `retryAfterMs`: not while
   * the wait its last recorded refusal gave it has not passed.
   */
  record(caller: Pick<Principal, 'tenant' | 'agent'>, retryAfterMs: number): boolean {
    const key = JSON.stringify([caller.tenant, caller.agent]);
    const now = this.#now();
    const until = this.#until.get(key);
    if (until !== undefined && now < until) return false;
    this.#until.delete(key);
    this.#until.set(key, now + Math.max(0, retryAfterMs));
    if (this.#until.size > this.#max) this.#until.delete(this.#until.keys().next().value as string);
    return true;
  }
}

/**
 * Whether a request answered with the structured `error` (a tool error's, or a JSON-RPC refusal's
 * data; undefined when it succeeded) is a rate-limit refusal repeated within its wait, which leaves
 * no audit record.
 */
export function repeatedRefusal(
  refusals: RepeatedRefusals | undefined,
  caller: Pick<Principal, 'tenant' | 'agent'>,
  error: unknown,
): boolean {
  const { code, retry_after_ms: wait } = (error ?? {}) as { code?: unknown; retry_after_ms?: unknown };
  if (!refusals || code !== 'rate_limit_exceeded' || typeof wait !== 'number') return false;
  return !refusals.record(caller, wait);
}
