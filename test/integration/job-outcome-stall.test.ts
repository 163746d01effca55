// A supervisor job's outcome that reached the asking process in time, while that process was
// stalled past its deadline (a busy machine: the router's event loop stalls for seconds under the
// 1,000-agent soak). The job answered within the deadline, so requestJob returns its value
// (supervisor/client/job-request.ts, `outcomeOf`: its deadline is kernel/redis/deadline.ts
// `afterDeadline`, at which it asks Redis once more whether the job finished). Before, BullMQ's `waitUntilFinished` timed the wait with a plain timer, whose
// callback the stalled loop ran before it read the answer waiting in its socket: the caller was
// told the job failed (an ensure's runtime had started, a remove had run). Real Redis (the shared
// one, every key under the test's own prefix); the worker in a process of its own
// (job-worker-main.ts), which the stall does not stop.
import { spawn, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { closeJobQueue } from '../../supervisor/client/job-queue-close.ts';
import { requestJob, type JobQueue } from '../../supervisor/client/job-request.ts';
import { withTimeout } from '../support/audit-harness.ts';
import { REDIS_URL } from '../support/namespace.ts';

const MAIN = new URL('../support/job-worker-main.ts', import.meta.url).pathname;
const PREFIX = `t-job-stall-${randomBytes(3).toString('hex')}`;
const QUEUE = 'stall';
const TIMEOUT_MS = 1_000;
const connection = { ...parseRedisUrl(REDIS_URL), maxRetriesPerRequest: null };

let worker: ChildProcess;
let dir: string;
let jobs: JobQueue;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `bulkhead-${PREFIX}-`));
  worker = spawn(process.execPath, [MAIN, REDIS_URL, PREFIX, QUEUE, dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: worker.stdout! })[Symbol.asyncIterator]();
  expect((await withTimeout(lines.next(), 15_000)).value).toBe('ready');
  jobs = {
    queue: new Queue(QUEUE, { connection, prefix: PREFIX }),
    events: new QueueEvents(QUEUE, { connection, prefix: PREFIX }),
  };
  await Promise.all([jobs.queue.waitUntilReady(), jobs.events.waitUntilReady()]);
}, 30_000);

afterAll(async () => {
  worker?.stdin?.end();
  await jobs?.queue.obliterate({ force: true });
  if (jobs) await closeJobQueue(jobs.queue, jobs.events);
  worker?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

/**
 * Blocks the event loop until the worker has recorded the job's completion, then until the
 * deadline has passed (and a little more, for the answer to reach the socket): the answer arrives
 * while the process cannot read it, and the wait's deadline expires meanwhile.
 */
function stallPast(jobId: string, deadline: number): void {
  const giveUp = performance.now() + 20_000;
  while (!existsSync(join(dir, jobId)) && performance.now() < giveUp);
  const end = Math.max(deadline, performance.now()) + 200;
  while (performance.now() < end);
}

describe('a job answered while its asker is stalled past the deadline', () => {
  it('returns the return value the job answered with in time', async () => {
    // Node's own event, which the QueueEvents' typed listeners do not list.
    const events = jobs.events as unknown as EventEmitter;
    const started = performance.now();
    let stalled = false;
    // The wait has begun (its deadline set, its listeners on, its first check sent): stall now.
    const onListener = (event: string | symbol): void => {
      const id = /^completed:(.+)$/.exec(String(event))?.[1];
      if (id === undefined || stalled) return;
      stalled = true;
      setImmediate(stallPast, id, started + TIMEOUT_MS);
    };
    events.on('newListener', onListener);
    try {
      const outcome = await requestJob(
        jobs,
        { name: 'echo', data: { asked: 'in time' } },
        { timeoutMs: TIMEOUT_MS, failed: (error) => error },
      );
      expect(stalled).toBe(true);
      expect(outcome).toEqual({ answered: { asked: 'in time' } });
    } finally {
      events.off('newListener', onListener);
    }
  }, 30_000);
});
