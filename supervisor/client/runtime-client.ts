// The only supervisor API the router (and the CLI) may use: ask for a tenant runtime through a
// BullMQ job and wait for its endpoint. The caller never touches the Docker socket.
import { Queue, QueueEvents } from 'bullmq';
import type { z } from 'zod';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { RedisConnection } from '../../kernel/redis/connection.ts';
import type { IsolationReport } from './isolation-report.ts';
import { closeJobQueue } from './job-queue-close.ts';
import { jobQueueClosed, requestJob, submitJob, type UntakenNotice } from './job-request.ts';
import { traceparentOf } from '../../kernel/telemetry/trace-context.ts';
import {
  EnsureOutcome,
  InspectOutcome,
  RecycleOutcome,
  RemoveOutcome,
  RUNTIME_QUEUE,
  VerifyOutcome,
  type EnsureResult,
  type JobData,
  type JobFailureCode,
  type JobOutcome,
  type RecycleJob,
  type RuntimeJobName,
  type RuntimeStatus,
} from './runtime-jobs.ts';

export interface RuntimeClientOptions {
  redis: RedisConnection;
  /** BullMQ key prefix: one per installation (and per test run). */
  prefix: string;
  /**
   * A job's submission and the wait for its outcome, together (default 60 s), and then a last check
   * whether the job finished, of LAST_CHECK_MS at most (job-request.ts).
   */
  timeoutMs?: number;
  /**
   * A job's submission alone, a Redis command (default: timeoutMs). The router gives it its state
   * deadline, as any Redis step of a call: a frozen Redis is then answered in a second, not when
   * the agent's own client has given up (a stock client's default is 60 s too).
   */
  submitTimeoutMs?: number;
  /** Told while a job waits for a supervisor to take it (the CLI's progress; none for the router). */
  untaken?: UntakenNotice | undefined;
  onError?: (error: Error) => void;
}

/**
 * The supervisor refused a runtime request (the code says why), or it failed or did not answer in
 * time (`runtime_failed`). `retryAfterMs` is set for `runtime_backoff`: when the circuit lets the
 * next attempt through.
 */
export class RuntimeRequestError extends BulkheadError<JobFailureCode> {}

export class RuntimeClient {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly timeoutMs: number;
  private readonly submitTimeoutMs: number;
  private readonly untaken: UntakenNotice | undefined;
  /** Aborted by `close`: what is still asked for or waited for then fails at once (job-request.ts). */
  private readonly closing = new AbortController();

  constructor(options: RuntimeClientOptions) {
    const connection = { ...options.redis, maxRetriesPerRequest: null };
    this.queue = new Queue(RUNTIME_QUEUE, {
      connection,
      prefix: options.prefix,
      defaultJobOptions: {
        removeOnComplete: { age: 300, count: 1000 },
        removeOnFail: { age: 3600, count: 1000 },
      },
    });
    this.events = new QueueEvents(RUNTIME_QUEUE, { connection, prefix: options.prefix });
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.submitTimeoutMs = Math.min(options.submitTimeoutMs ?? this.timeoutMs, this.timeoutMs);
    this.untaken = options.untaken;
    // BullMQ reconnects by itself; without listeners its 'error' events would crash the process.
    const onError = options.onError ?? (() => undefined);
    this.queue.on('error', onError);
    // Every job being waited for adds a listener; a burst of first calls waits for dozens at once.
    this.queue.setMaxListeners(0);
    this.events.setMaxListeners(0);
    this.events.on('error', onError);
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  async ensure(tenantId: string): Promise<RuntimeEndpoint> {
    return (await this.ensureRuntime(tenantId)).endpoint;
  }

  /** The endpoint and the runtime epoch it was handed out under. */
  async ensureRuntime(tenantId: string): Promise<EnsureResult> {
    // A traced call's context rides along, so a cold start or wake is part of the call's trace.
    const traceparent = traceparentOf();
    return this.run('ensure', traceparent ? { tenantId, traceparent } : { tenantId }, EnsureOutcome);
  }

  /**
   * Asks the supervisor to replace the tenant's runtime and returns once the job is queued: the
   * caller (a router answering an agent) does not wait for the drain and the fresh start. `failed`:
   * the runtime is broken, not out of date (RecycleJob).
   */
  async requestRecycle(tenantId: string, reason: string, options: { failed?: boolean } = {}): Promise<void> {
    const data: JobData<'recycle'> = { tenantId, reason, requestedAtMs: Date.now(), ...options };
    await submitJob(this.queue, { name: 'recycle', data }, this.submitTimeoutMs, this.closing.signal);
  }

  /**
   * Asks the supervisor to ready a new tenant's image and volume, so that its first call only
   * creates and starts its container; returns once the job is queued (nothing waits for it).
   */
  async requestPrepare(tenantId: string): Promise<void> {
    const data: JobData<'prepare'> = { tenantId };
    await submitJob(this.queue, { name: 'prepare', data }, this.submitTimeoutMs, this.closing.signal);
  }

  async remove(tenantId: string, options: { purgeData: boolean }): Promise<void> {
    const data = { tenantId, purgeData: options.purgeData, notAfterMs: Date.now() + this.timeoutMs };
    await this.run('remove', data, RemoveOutcome);
  }

  async inspect(tenantId: string): Promise<RuntimeStatus | null> {
    return (await this.run('inspect', { tenantId }, InspectOutcome)).status;
  }

  /** Replaces the tenant's container (a security event); resolves when the new one serves. */
  async recycle(request: RecycleJob): Promise<void> {
    await this.run('recycle', request, RecycleOutcome);
  }

  /** The isolation evidence report of a tenant's live container (a supervisor job: only it holds Docker). */
  async verify(tenantId: string): Promise<IsolationReport> {
    return (await this.run('verify', { tenantId }, VerifyOutcome)).report;
  }

  /**
   * Bounded whatever Redis is doing: a restart under it no longer holds it (job-queue-close.ts). A
   * job still asked for or waited for fails at once with `state_unavailable` (jobQueueClosed), its
   * timers cleared: a router shutting down is not held open by its calls' waits.
   */
  async close(): Promise<void> {
    this.closing.abort(jobQueueClosed());
    await closeJobQueue(this.queue, this.events);
  }

  /**
   * Runs one job and waits for its outcome, both within `timeoutMs` (job-request.ts): a refusal or
   * a failure throws RuntimeRequestError, a job the queue did not take in time `state_unavailable`.
   * Such a job may still land once Redis answers again, run for nobody. An ensure starts (or wakes)
   * the runtime of a tenant that is still active (the worker reads its record), which the idle
   * tiers put back to sleep; a prepare readies an image and a volume; an inspect or verify only
   * reads. A recycle from requestRecycle spares a container created after the request; an
   * operator's recycle replaces the runtime once more. A remove carries until when it is waited
   * for (`notAfterMs`): the supervisor refuses it later, as the control plane, told the job failed,
   * went no further (an offboarding keeps the record and runs again).
   */
  private async run<N extends RuntimeJobName, T>(
    name: N,
    data: JobData<N>,
    outcomeSchema: z.ZodType<JobOutcome<T>>,
  ): Promise<T> {
    const returned = await requestJob(
      { queue: this.queue, events: this.events },
      { name, data },
      {
        timeoutMs: this.timeoutMs,
        submitMs: this.submitTimeoutMs,
        untaken: this.untaken,
        closing: this.closing.signal,
        // The job failed (an unexpected exception in the worker) or no answer came in time.
        failed: (error) => new RuntimeRequestError('runtime_failed', error.message, { cause: error }),
      },
    );
    const outcome = outcomeSchema.parse(returned);
    if (outcome.ok) return outcome.value;
    const { code, message, retryAfterMs } = outcome.error;
    throw new RuntimeRequestError(code, message, { retryAfterMs });
  }
}
