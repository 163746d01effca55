// One supervisor job asked for by a producer (RuntimeClient, PackClient) under one deadline: its
// submission to the queue and the wait for its outcome share the client's `timeoutMs`. The
// producers' connections retry for good (`maxRetriesPerRequest: null`, which BullMQ wants for its
// event stream), so a Redis that stops answering with its connection open (frozen, a partition
// with no reset) would hold `queue.add` forever, and the caller with it: an agent's call waiting
// for a cold start, holding its place at the tenant's concurrency gate and its idempotency claim.
import type { Job, Queue, QueueEvents } from 'bullmq';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { settleWithin } from '../../kernel/redis/deadline.ts';
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
 * Submits a job, bounded by `ms`: past it (or when Redis gives no answer at all) the caller gets
 * `jobNotSubmitted`. The `queue.add` itself cannot be taken back: its command may be written to a
 * Redis that runs it once it answers again, so the job may still land later, for nobody. Each job's
 * own guard makes that safe (runtime-client.ts says which).
 */
export async function submitJob(queue: Queue, name: string, data: object, ms: number): Promise<Job> {
  try {
    return await settleWithin(queue.add(name, data), ms, () => jobNotSubmitted(name, ms));
  } catch (error) {
    if (isBulkheadError(error, 'state_unavailable')) throw error;
    throw unansweredByRedis(error) ? jobNotSubmitted(name, ms, error) : error;
  }
}

/**
 * Submits a job and waits for its return value, both within `timeoutMs`, the submission alone
 * within `submitMs` too (a Redis command, where the wait is for a container's start). A job not
 * submitted in time fails with `jobNotSubmitted`; one that failed, or whose outcome did not come
 * within what is left of the deadline, with what `failed` makes of BullMQ's error.
 */
export async function requestJob(
  jobs: JobQueue,
  job: { name: string; data: object },
  /** `submitMs`: no more than `timeoutMs` (the caller's to keep so: RuntimeClient does). */
  options: { timeoutMs: number; submitMs?: number | undefined; failed: (error: Error) => Error },
): Promise<unknown> {
  const deadline = performance.now() + options.timeoutMs;
  const submitted = await submitJob(jobs.queue, job.name, job.data, options.submitMs ?? options.timeoutMs);
  // At least 1 ms: BullMQ reads a ttl of 0 as "wait for good".
  const left = Math.max(1, Math.ceil(deadline - performance.now()));
  try {
    return await submitted.waitUntilFinished(jobs.events, left);
  } catch (error) {
    throw options.failed(error instanceof Error ? error : new Error(String(error)));
  }
}
