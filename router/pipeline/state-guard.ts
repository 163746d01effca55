// What a tool call does when Redis, the router's shared state, does not answer (docs/rate-limits.md,
// "Redis unavailable"). Every call takes from the rate limits in Redis, and a write also claims its
// idempotency key there, before it reaches a container. Without Redis no step waits longer than
// `deadlineMs` and the call is answered `state_unavailable` (transient): a write is never dispatched without its claim
// (fail closed, so a retry cannot run it twice), and a tenant's read is not dispatched without its
// budget. Only the router's own read-only shared tools (whoami, docs_search...) may be configured to
// fail open: they touch no tenant's container and spend nothing but this process's CPU.
import { Redis, type Command, type RedisOptions } from 'ioredis';
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
 * Runs `expire` once `ms` have passed and the event loop has then read what its sockets hold. A
 * router whose event loop stalls for longer than a deadline (a busy machine: seconds at a time in
 * the 1,000-agent soak) runs its expired timers before it reads Redis's answers, which have been
 * waiting in the socket since: a timer's callback alone would fail a command that was answered. So
 * the callback only schedules the check for the loop's next check phase (`setImmediate`), which
 * follows its poll for I/O: an answer that arrived meanwhile has been read and has settled its
 * command by then. Silence still fails at the deadline, one turn of the loop later.
 */
function afterDeadline<T>(ms: number, expire: (subject: T) => void, subject: T): NodeJS.Timeout {
  return setTimeout(checkAfterIo<T>, ms, expire, subject);
}

function checkAfterIo<T>(expire: (subject: T) => void, subject: T): void {
  setImmediate(expire, subject);
}

function failIfUnanswered(command: Command): void {
  if (!command.isSettled) command.reject(new Error('Command timed out'));
}

type CommandStream = Parameters<Redis['sendCommand']>[1];

/**
 * The router's Redis client for a state deadline. Each of its options is needed for a bounded answer:
 * - `enableOfflineQueue: false`: while the connection is down a command fails at once instead of
 *   waiting in a queue for a reconnection that may never come (the default queues without bound).
 * - a timeout on every command: a connection that is up but silent (Redis frozen, a network
 *   partition with no reset) fails the command after the deadline rather than after the kernel's TCP
 *   timeout. It is this class's own, not ioredis's `commandTimeout`, whose timer fails a command
 *   whose answer a stalled event loop has not read yet (`afterDeadline`, above).
 * - `maxRetriesPerRequest: 1`: a command in flight when the connection drops is not retried over
 *   and over with the reconnection attempts (the default is 20).
 * ioredis keeps reconnecting in the background (its default back-off), so service resumes by
 * itself when Redis is back.
 */
export class StateRedis extends Redis {
  readonly #deadlineMs: number;

  constructor(options: RedisOptions & { replyMapping?: 'legacy' }, policy: Pick<StatePolicy, 'deadlineMs'>) {
    super({ ...options, enableOfflineQueue: false, commandTimeout: undefined, maxRetriesPerRequest: 1 });
    this.#deadlineMs = policy.deadlineMs;
  }

  override sendCommand(command: Command, stream?: CommandStream): unknown {
    const sent = super.sendCommand(command, stream);
    if (!command.isSettled) {
      const timer = afterDeadline(this.#deadlineMs, failIfUnanswered, command);
      // Cleared once answered, as ioredis clears its own: a timer left running would keep the
      // command, and what its answer holds, alive for the whole deadline.
      const clear = (): void => clearTimeout(timer);
      command.promise.then(clear, clear);
    }
    return sent;
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

function rejectUnavailable(reject: (error: unknown) => void): void {
  reject(stateUnavailable());
}

/**
 * `work`, or a `state_unavailable` error when it fails or has not settled after the deadline (and
 * the loop's read of its sockets after it: `afterDeadline`).
 */
export async function withinDeadline<T>(
  work: Promise<T>,
  policy: Pick<StatePolicy, 'deadlineMs'>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = afterDeadline(policy.deadlineMs, rejectUnavailable, reject);
  });
  try {
    return await Promise.race([work, expired]);
  } catch (error) {
    // The deadline's own error as it is; a failure of the work with what Redis answered, for the log.
    throw isBulkheadError(error, 'state_unavailable') ? error : stateUnavailable(error);
  } finally {
    clearTimeout(timer);
    // A late rejection of `work` after the deadline must not surface as an unhandled rejection.
    work.catch(() => undefined);
  }
}

/** Whether `tool` is served without a budget when Redis does not answer. */
export function failsOpen(tool: ToolDefinition, policy: StatePolicy): boolean {
  return policy.failOpenSharedReads && tool.kind === 'shared' && !tool.writes;
}
