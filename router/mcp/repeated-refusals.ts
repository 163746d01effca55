// Which refusals for a spent budget reach the audit trail. A request refused with
// `rate_limit_exceeded` was charged to nothing (that is what the refusal means), yet each one
// appended a record to its tenant's trail: an agent looping past its budget (a tools/call, a
// relayed request, a refused call past its share) grew the trail, and the Redis every tenant
// shares, as fast as it could send, however small its budget. The refusal tells the caller how long
// to wait (`retry_after_ms`); a refusal of the same caller before that wait has passed is the same
// refusal asked again, and is not recorded again: the first is, and then one per wait at most, so
// what a loop past its budget adds to the trail is bounded by how fast its budgets refill. Each is
// still answered and counted (`bulkhead_rate_limit_refusals_total`), and logged as
// router/pipeline/refusal-log.ts bounds it. Per router process, in
// memory, like the verified-token cache: a caller whose requests spread over N routers leaves up to
// N records a wait. The callers remembered are bounded (the least recently refused are forgotten,
// so at worst one is recorded again).
import type { Principal } from '../identity/principal.ts';
import { OncePerWait, type OncePerWaitOptions } from '../pipeline/once-per-wait.ts';

export class RepeatedRefusals {
  /** Per caller (tenant and agent), once per wait (router/pipeline/once-per-wait.ts). */
  readonly #waits: OncePerWait;

  constructor(options: OncePerWaitOptions = {}) {
    this.#waits = new OncePerWait(options);
  }

  /**
   * Whether to record this rate-limit refusal of `caller`, told to wait `retryAfterMs`: not while
   * the wait its last recorded refusal gave it has not passed.
   */
  record(caller: Pick<Principal, 'tenant' | 'agent'>, retryAfterMs: number): boolean {
    return this.#waits.pass(caller, retryAfterMs) !== undefined;
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
