// One supervisor job asked for by a producer (RuntimeClient, PackClient) under one deadline: its
// submission to the queue and the wait for its outcome share the client's `timeoutMs`. The
// producers' connections retry for good (`maxRetriesPerRequest: null`, which BullMQ wants for its
// event stream), so a Redis that stops answering with its connection open (frozen, a partition
// with no reset) would hold `queue.add` forever, and the caller with it: an agent's call waiting
// for a cold start, holding its place at the tenant's concurrency gate and its idempotency claim.
import type { EventEmitter } from 'node:events';
import type { Job, Queue, QueueEvents } from 'bullmq';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { afterDeadline, settleWithin } from '../../kernel/redis/deadline.ts';
import { unansweredByRedis } from '../../kernel/redis/redis-unanswered.ts';

export interface JobQueue {
  queue: Queue;
  events: QueueEvents;
}

/**
 * The job queue's Redis did not take the job in time. `state_unavailable` (transient, retry), the
 * code of a Redis that does not answer, and not `runtime_failed`: no job was submitted, so no
 * runtime failed and nothing ran for the caller; the router answers it as it answers its own state
 * reads that time out (router/pipeline/call-pipeline.ts, runtimeFailure).
 */
export function jobNotSubmitted(
  name: string,
  ms: number,
  cause?: unknown,
): BulkheadError<'state_unavailable'> {
  return new BulkheadError(
    'state_unavailable',
    `the job queue (Redis) did not take the ${name} job within ${ms} ms; retry`,
    { retryAfterMs: 1_000, ...(cause === undefined ? {} : { cause }) },
  );
}

/**
 * What a request pending when its client closes fails with, at once (`closing` below): a router
 * shutting down, the CLI or the console done. `state_unavailable`, as a queue that does not answer:
 * the job's outcome is unknown here, and a job submitted may still run, for nobody (as one whose
 * wait expired).
 */
export function jobQueueClosed(): BulkheadError<'state_unavailable'> {
  return new BulkheadError('state_unavailable', 'the job queue client closed: the job was not waited for', {
    retryAfterMs: 1_000,
  });
}

/**
 * What `start` gives, or the reason `closing` was aborted with, whichever comes first; when
 * `closing` was aborted already, that reason without calling `start`: a job asked for as its
 * client closes (a call the router's drain cut just then) would be submitted for no one, a
 * container started for no one, since the close waits for the answers to what its connection sent
 * (job-queue-close.ts).
 */
function unlessClosed<T>(start: () => Promise<T>, closing: AbortSignal | undefined): Promise<T> {
  if (!closing) return start();
  if (closing.aborted) return Promise.reject(closing.reason as Error);
  const work = start();
  let onAbort = (): void => undefined;
  const closed = new Promise<never>((_, reject) => {
    onAbort = () => reject(closing.reason as Error);
    closing.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, closed]).finally(() => {
    closing.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  });
}

/**
 * Submits a job, bounded by `ms`: past it (or when Redis gives no answer at all) the caller gets
 * `jobNotSubmitted`. The `queue.add` itself cannot be taken back: its command may be written to a
 * Redis that runs it once it answers again, so the job may still land later, for nobody. Each job's
 * own guard makes that safe (runtime-client.ts says which).
 */
export async function submitJob(
  queue: Queue,
  job: { name: string; data: object },
  ms: number,
  /** Aborted (with `jobQueueClosed`) when the client closes: no submission is made, or waited for, then. */
  closing?: AbortSignal,
): Promise<Job> {
  const { name, data } = job;
  try {
    return await settleWithin(
      unlessClosed(() => queue.add(name, data), closing),
      ms,
      () => jobNotSubmitted(name, ms),
    );
  } catch (error) {
    if (isBulkheadError(error, 'state_unavailable')) throw error;
    throw unansweredByRedis(error) ? jobNotSubmitted(name, ms, error) : error;
  }
}

/**
 * What a producer is told while its job waits for a supervisor to take it: a person at the CLI,
 * who otherwise watched nothing happen for minutes when no supervisor served the installation.
 */
export interface UntakenNotice {
  /** After how long untaken the first notice comes, and then again at each such interval. */
  everyMs: number;
  /** `workers`: the supervisors' workers on the job's queue now (undefined: Redis did not say). */
  notice: (info: { job: string; waitedMs: number; leftMs: number; workers: number | undefined }) => void;
}

/**
 * Notices, every `everyMs` until stopped, that `submitted` is still waiting to be taken. Best
 * effort: a read that fails skips its notice, and a read is never two at once.
 */
function watchUntaken(queue: Queue, submitted: Job, deadline: number, untaken: UntakenNotice): () => void {
  const started = performance.now();
  let reading = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    void (async () => {
      const state = await submitted.getState();
      if (state !== 'waiting' && state !== 'prioritized') return;
      const workers = await queue.getWorkersCount().catch(() => undefined);
      if (!stopped) {
        const now = performance.now();
        untaken.notice({
          job: submitted.name,
          waitedMs: Math.round(now - started),
          leftMs: Math.max(0, Math.round(deadline - now)),
          workers,
        });
      }
    })()
      .catch(() => undefined)
      .finally(() => (reading = false));
  }, untaken.everyMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/**
 * Submits a job and waits for its return value, both within `timeoutMs`, the submission alone
 * within `submitMs` too (a Redis command, where the wait is for a container's start). A job not
 * submitted in time fails with `jobNotSubmitted`; one that failed, or whose outcome did not come
 * within what is left of the deadline, with what `failed` makes of the reason (`outcomeOf`); one
 * still pending when `closing` is aborted (its client closed), at once with `closing`'s reason,
 * its timers cleared: nothing is left to hold the process or to fire after the close.
 */
export async function requestJob(
  jobs: JobQueue,
  job: { name: string; data: object },
  /** `submitMs`: no more than `timeoutMs` (the caller's to keep so: RuntimeClient does). */
  options: {
    timeoutMs: number;
    submitMs?: number | undefined;
    failed: (error: Error) => Error;
    untaken?: UntakenNotice | undefined;
    closing?: AbortSignal | undefined;
  },
): Promise<unknown> {
  const { closing } = options;
  const deadline = performance.now() + options.timeoutMs;
  const submitted = await submitJob(jobs.queue, job, options.submitMs ?? options.timeoutMs, closing);
  const stopWatching = options.untaken && watchUntaken(jobs.queue, submitted, deadline, options.untaken);
  try {
    const ms = Math.max(0, Math.ceil(deadline - performance.now()));
    return await outcomeOf(jobs, submitted, { ms, closing });
  } catch (error) {
    if (closing?.aborted && error === closing.reason) throw error;
    throw options.failed(error as Error);
  } finally {
    stopWatching?.();
  }
}

/**
 * How long a wait's last check, at its deadline, may take: whether the job finished while the
 * process could not read its event stream (below).
 */
export const LAST_CHECK_MS = 500;

/**
 * The return value of the submitted `job`, or an Error saying why it failed or that no outcome came
 * within `ms` (and LAST_CHECK_MS more at most). What BullMQ's `waitUntilFinished` does, without its
 * two flaws. Its deadline was a plain timer, whose callback a process stalled past it (a busy
 * machine) ran before it read what waited in its sockets: a job that had answered in time was
 * failed. Here the deadline is `afterDeadline`, and at it Redis is asked once more whether the job
 * finished: the event stream is read one batch a round trip, so a completion recorded during the
 * stall may still be a read away when the loop resumes. And its check for a job finished before the
 * wait began ran inside an async Promise executor, where the check's failure (its command cut off
 * by the queue's close while Redis was frozen) was a rejection no one handles, which ends a process.
 */
function outcomeOf(
  jobs: JobQueue,
  job: Job,
  { ms, closing }: { ms: number; closing?: AbortSignal | undefined },
): Promise<unknown> {
  const { queue } = jobs;
  // Per-job event names (`completed:<id>`), which its typed listeners do not list.
  const events = jobs.events as unknown as EventEmitter & Pick<QueueEvents, 'waitUntilReady'>;
  const id = String(job.id);
  const completed = `completed:${id}`;
  const failed = `failed:${id}`;
  const finished = (): Promise<unknown> => queue.getBackend().isFinished(id, true);
  return new Promise((resolve, reject) => {
    let waiting = true;
    const end = (settle: () => void): void => {
      if (!waiting) return;
      waiting = false;
      clearTimeout(timer);
      events.off(completed, onCompleted);
      events.off(failed, onFailed);
      closing?.removeEventListener('abort', onClosed);
      settle();
    };
    const fail = (reason: string): void => end(() => reject(new Error(reason)));
    const onCompleted = (args: { returnvalue?: unknown }): void => end(() => resolve(args.returnvalue));
    const onFailed = (args: { failedReason?: string }): void =>
      fail(args.failedReason || `the ${job.name} job failed`);
    /** Settles by what `isFinished` answered; `unfinished` when the job has not finished. */
    const settleBy = (answer: unknown, unfinished: () => void): void => {
      const [status, result] = answer as [number, string | null];
      if (status === 1) end(() => resolve(returnValueOf(result)));
      // 2: failed (`result` says why); -1: the job is gone.
      else if (status !== 0) fail(result || `the ${job.name} job (id ${id}) is gone`);
      else unfinished();
    };
    const expired = (): void => fail(`no outcome of the ${job.name} job (id ${id}) came within ${ms} ms`);
    const onClosed = (): void => end(() => reject(closing!.reason as Error));
    events.on(completed, onCompleted);
    events.on(failed, onFailed);
    const timer = afterDeadline(ms, lastCheck, undefined);
    if (closing?.aborted) onClosed();
    else closing?.addEventListener('abort', onClosed, { once: true });
    function lastCheck(): void {
      if (!waiting) return;
      void settleWithin(finished(), LAST_CHECK_MS, () => new Error('unanswered')).then(
        (answer) => settleBy(answer, expired),
        expired,
      );
    }
    // Once the event stream is read, so that no event can fall between this check and the listeners.
    events
      .waitUntilReady()
      .then(finished)
      .then(
        (answer) => settleBy(answer, () => undefined),
        (error: unknown) => fail(`the ${job.name} job could not be read: ${String(error)}`),
      );
  });
}

/** A completed job's return value as Redis keeps it (JSON); unreadable: undefined, as BullMQ's. */
function returnValueOf(stored: string | null): unknown {
  try {
    return stored === null ? undefined : JSON.parse(stored);
  } catch {
    return undefined;
  }
}
