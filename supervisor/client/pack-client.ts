// What the control plane asks the supervisor about tool packs: build an image, list a pack in the
// approval sandbox. Jobs on their own queue, so a slow build never delays a tenant's runtime job.
import { Queue, QueueEvents } from 'bullmq';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RedisConnection } from '../../kernel/redis/connection.ts';
import {
  PACK_JOBS,
  PACK_QUEUE,
  packJobOutcome,
  type PackJobData,
  type PackJobName,
  type PackJobValue,
} from './pack-jobs.ts';
import { closeJobQueue } from './job-queue-close.ts';
import { jobQueueClosed, requestJob, type UntakenNotice } from './job-request.ts';

export class PackClient {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly timeoutMs: number;
  private readonly untaken: UntakenNotice | undefined;
  /** Aborted by `close`: a job still waited for then fails at once (job-request.ts). */
  private readonly closing = new AbortController();

  constructor(options: {
    redis: RedisConnection;
    prefix: string;
    timeoutMs?: number;
    /** Told while a job waits for a supervisor to take it (the CLI's progress). */
    untaken?: UntakenNotice | undefined;
  }) {
    const connection = { ...options.redis, maxRetriesPerRequest: null };
    this.queue = new Queue(PACK_QUEUE, {
      connection,
      prefix: options.prefix,
      defaultJobOptions: { removeOnComplete: { age: 300 }, removeOnFail: { age: 3600 } },
    });
    this.events = new QueueEvents(PACK_QUEUE, { connection, prefix: options.prefix });
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.untaken = options.untaken;
    this.queue.on('error', () => undefined);
    this.events.on('error', () => undefined);
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  build(dir: string): Promise<PackJobValue<'build'>> {
    return this.run('build', { dir });
  }

  list(ref: string): Promise<PackJobValue<'list'>> {
    return this.run('list', { ref });
  }

  async close(): Promise<void> {
    this.closing.abort(jobQueueClosed());
    await closeJobQueue(this.queue, this.events);
  }

  /**
   * Runs one job within `timeoutMs` (job-request.ts). One the queue did not take in time may land
   * later and run for nobody: a build or a sandbox listing, work without effect on any tenant.
   */
  private async run<N extends PackJobName>(name: N, data: PackJobData<N>): Promise<PackJobValue<N>> {
    const returned = await requestJob(
      { queue: this.queue, events: this.events },
      { name, data },
      {
        timeoutMs: this.timeoutMs,
        untaken: this.untaken,
        closing: this.closing.signal,
        failed: (error) =>
          new BulkheadError('pack_rejected', `the supervisor's ${name} job failed: ${error.message}`, {
            cause: error,
          }),
      },
    );
    const outcome = packJobOutcome(PACK_JOBS[name].value).parse(returned);
    if (!outcome.ok) throw new BulkheadError('pack_rejected', outcome.error.message);
    return outcome.value as PackJobValue<N>;
  }
}
