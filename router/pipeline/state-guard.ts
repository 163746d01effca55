// What a tool call does when Redis, the router's shared state, does not answer (docs/rate-limits.md,
// "Redis unavailable"). Every call takes from the rate limits in Redis, and a write also claims its
// idempotency key there, before it reaches a container. Without Redis no step waits longer than
// `deadlineMs` and the call is answered `state_unavailable` (transient): a write is never dispatched without its claim
// (fail closed, so a retry cannot run it twice), and a tenant's read is not dispatched without its
// budget. Only the router's own read-only shared tools (whoami, docs_search...) may be configured to
// fail open: they touch no tenant's container and spend nothing but this process's CPU.
import type { RedisOptions } from 'ioredis';
import { DeadlineRedis, settleWithin } from '../../kernel/redis/deadline.ts';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { ToolDefinition } from '../../kernel/tools/tool-definition.ts';

export interface StatePolicy {
  /** How long a call waits for Redis before it is answered `state_unavailable`. */
  deadlineMs: number;
  /** Serve read-only shared tools without a budget when Redis does not answer. */
  failOpenSharedReads: boolean;
}

export const DEFAULT_STATE_POLICY: StatePolicy = { deadlineMs: 1_000, failOpenSharedReads: false };

/**
 * The router's Redis client for a state deadline (a DeadlineRedis: every command fails past the
 * deadline, kernel/redis/deadline.ts). Each of its options is needed for a bounded answer:
 * - `enableOfflineQueue: false`: while the connection is down a command fails at once instead of
 *   waiting in a queue for a reconnection that may never come (the default queues without bound).
 * - the deadline on every command: a connection that is up but silent (Redis frozen, a network
 *   partition with no reset) fails the command after the deadline rather than after the kernel's TCP
 *   timeout.
 * - `maxRetriesPerRequest: 1`: a command in flight when the connection drops is not retried over
 *   and over with the reconnection attempts (the default is 20).
 * ioredis keeps reconnecting in the background (its default back-off), so service resumes by
 * itself when Redis is back.
 */
export class StateRedis extends DeadlineRedis {
  constructor(options: RedisOptions & { replyMapping?: 'legacy' }, policy: Pick<StatePolicy, 'deadlineMs'>) {
    super({ ...options, enableOfflineQueue: false, maxRetriesPerRequest: 1 }, policy);
  }
}

/** `cause`: what Redis answered instead, kept for the log. */
export function stateUnavailable(cause?: unknown): BulkheadError<'state_unavailable'> {
  return new BulkheadError(
    'state_unavailable',
    "the router's shared state (Redis) did not answer; nothing was run, retry with the same idempotency key",
    { retryAfterMs: 1_000, ...(cause === undefined ? {} : { cause }) },
  );
}

/**
 * `work`, or a `state_unavailable` error when it fails or has not settled after the deadline (and
 * the loop's read of its sockets after it: `afterDeadline`).
 */
export async function withinDeadline<T>(
  work: Promise<T>,
  policy: Pick<StatePolicy, 'deadlineMs'>,
): Promise<T> {
  try {
    return await settleWithin(work, policy.deadlineMs, stateUnavailable);
  } catch (error) {
    // The deadline's own error as it is; a failure of the work with what Redis answered, for the log.
    throw isBulkheadError(error, 'state_unavailable') ? error : stateUnavailable(error);
  }
}

/** Whether `tool` is served without a budget when Redis does not answer. */
export function failsOpen(tool: ToolDefinition, policy: StatePolicy): boolean {
  return policy.failOpenSharedReads && tool.kind === 'shared' && !tool.writes;
}
