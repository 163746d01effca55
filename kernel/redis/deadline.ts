// A deadline on what a process waits for from Redis, for the router's shared state
// (router/pipeline/state-guard.ts) and the console's (console/console-server.ts): a Redis that
// accepts the connection but does not answer (frozen, a partition with no reset) would otherwise
// hold a command until the kernel's TCP timeout, or for good over a unix socket.
import { Redis, type Command, type RedisOptions } from 'ioredis';

/** What a command unanswered at its deadline fails with (kernel/redis/redis-unanswered.ts). */
export const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * Runs `expire` once `ms` have passed and the event loop has then read what its sockets hold. A
 * process whose event loop stalls for longer than a deadline (a busy machine: seconds at a time in
 * the router's 1,000-agent soak) runs its expired timers before it reads Redis's answers, which
 * have been waiting in the socket since: a timer's callback alone would fail a command that was
 * answered. So the callback only schedules the check for the loop's next check phase
 * (`setImmediate`), which follows its poll for I/O: an answer that arrived meanwhile has been read
 * and has settled its command by then. Silence still fails at the deadline, one turn of the loop
 * later.
 */
export function afterDeadline<T>(ms: number, expire: (subject: T) => void, subject: T): NodeJS.Timeout {
  return setTimeout(checkAfterIo<T>, ms, expire, subject);
}

function checkAfterIo<T>(expire: (subject: T) => void, subject: T): void {
  setImmediate(expire, subject);
}

function failIfUnanswered(command: Command): void {
  if (!command.isSettled) command.reject(new Error(COMMAND_TIMED_OUT));
}

type CommandStream = Parameters<Redis['sendCommand']>[1];

/**
 * An ioredis client whose every command fails with COMMAND_TIMED_OUT when Redis has not answered
 * it `deadlineMs` after it was sent (or queued). Its own timer, not ioredis's `commandTimeout`,
 * whose timer fails a command whose answer a stalled event loop has not read yet (`afterDeadline`).
 * A command that fails so stops the work that awaited it: nothing after it is sent. One already
 * written may still be run by a Redis that answers later.
 */
export class DeadlineRedis extends Redis {
  readonly #deadlineMs: number;

  constructor(options: RedisOptions & { replyMapping?: 'legacy' }, deadline: { deadlineMs: number }) {
    super({ ...options, commandTimeout: undefined });
    this.#deadlineMs = deadline.deadlineMs;
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

/**
 * `work`, or the error `expired()` makes when `work` has not settled `ms` from now (and the loop
 * has read its sockets since: `afterDeadline`). A late rejection of `work` is swallowed: nothing
 * waits for it any more.
 */
export async function settleWithin<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = afterDeadline(ms, rejectWith, { reject, expired });
  });
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

function rejectWith(pending: { reject: (error: Error) => void; expired: () => Error }): void {
  pending.reject(pending.expired());
}
