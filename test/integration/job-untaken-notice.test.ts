// A person at the CLI hears that a job waits for a supervisor, and why (supervisor/client/
// job-request.ts, `untaken`; the CLI's line: tenants/cli/cli-context.ts, untakenNotice). Before, a
// command whose installation had no supervisor running printed nothing until its timeout: two
// minutes for a runtime job, ten for a pack. Real Redis (the shared one, every key under the test's
// own prefix) and real BullMQ workers standing in for the supervisor's.
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { closeJobQueue } from '../../supervisor/client/job-queue-close.ts';
import { requestJob, type JobQueue, type UntakenNotice } from '../../supervisor/client/job-request.ts';
import { untakenNotice } from '../../tenants/cli/cli-context.ts';
import { REDIS_URL } from '../support/namespace.ts';

const PREFIX = `t-job-untaken-${randomBytes(3).toString('hex')}`;
const connection = { ...parseRedisUrl(REDIS_URL), maxRetriesPerRequest: null };
const opened: JobQueue[] = [];
const workers: Worker[] = [];

async function queueNamed(name: string): Promise<JobQueue> {
  const jobs = {
    queue: new Queue(name, { connection, prefix: PREFIX }),
    events: new QueueEvents(name, { connection, prefix: PREFIX }),
  };
  opened.push(jobs);
  await Promise.all([jobs.queue.waitUntilReady(), jobs.events.waitUntilReady()]);
  return jobs;
}

async function workerOn(name: string, run: () => Promise<unknown>): Promise<Worker> {
  const worker = new Worker(name, run, { connection, prefix: PREFIX, concurrency: 1 });
  workers.push(worker);
  await worker.waitUntilReady();
  return worker;
}

type Heard = Parameters<UntakenNotice['notice']>[0] & { at: number };

/** The notices of one request (each with when it came), and how it ended. */
async function request(jobs: JobQueue, timeoutMs: number) {
  const heard: Heard[] = [];
  const notice: UntakenNotice['notice'] = (info) => heard.push({ ...info, at: performance.now() });
  const outcome = await requestJob(
    jobs,
    { name: 'inspect', data: {} },
    { timeoutMs, failed: (error) => error, untaken: { everyMs: 250, notice } },
  ).then(
    (value) => ({ value }),
    (error: Error) => ({ error: error.message }),
  );
  return { heard, outcome };
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close(true)));
});

afterAll(async () => {
  for (const jobs of opened) {
    await jobs.queue.obliterate({ force: true }).catch(() => undefined);
    await closeJobQueue(jobs.queue, jobs.events);
  }
});

describe('a job that waits for a supervisor', () => {
  it('is noticed again and again while no supervisor serves the queue, saying none does', async () => {
    const { heard, outcome } = await request(await queueNamed('none'), 2_000);
    expect(outcome).toMatchObject({ error: expect.stringContaining('no outcome') });
    expect(heard.length).toBeGreaterThanOrEqual(2);
    expect(heard.every((n) => n.job === 'inspect' && n.workers === 0)).toBe(true);
    expect(heard[0]!.waitedMs).toBeLessThan(heard.at(-1)!.waitedMs);
    expect(heard[0]!.leftMs).toBeGreaterThan(heard.at(-1)!.leftMs);
  });

  it('is noticed as waiting behind other work when the supervisor is busy', async () => {
    const jobs = await queueNamed('busy');
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    await workerOn('busy', async () => {
      await held;
      return 'done';
    });
    await jobs.queue.add('long', {});
    const pending = request(jobs, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    release();
    const { heard, outcome } = await pending;
    expect(outcome).toEqual({ value: 'done' });
    expect(heard.length).toBeGreaterThanOrEqual(1);
    expect(heard.every((n) => n.workers === 1)).toBe(true);
  });

  it('is not noticed once a supervisor takes it, however long it runs', async () => {
    const jobs = await queueNamed('taken');
    let takenAt = Infinity;
    await workerOn('taken', async () => {
      takenAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return 'done';
    });
    const { heard, outcome } = await request(jobs, 6_000);
    expect(outcome).toEqual({ value: 'done' });
    // Every tick of the job's two seconds found it taken; one that read it waiting just before (a
    // slow pickup on a loaded machine) is heard within moments of it.
    expect(heard.filter((n) => n.at > takenAt + 500)).toEqual([]);
  });
});

describe("the CLI's line", () => {
  it('names the namespace and what to check when no supervisor serves it', () => {
    const lines: string[] = [];
    const { notice } = untakenNotice('prod', (line) => lines.push(line));
    notice({ job: 'ensure', waitedMs: 5_100, leftMs: 114_900, workers: 0 });
    notice({ job: 'ensure', waitedMs: 10_000, leftMs: 110_000, workers: 2 });
    expect(lines).toEqual([
      'waiting for the supervisor: the ensure job is not taken after 5 s (no supervisor serves namespace "prod": start one, or check BULKHEAD_NAMESPACE and BULKHEAD_REDIS_URL); giving up in 115 s',
      'waiting for the supervisor: the ensure job is not taken after 10 s (the supervisor is busy with other jobs); giving up in 110 s',
    ]);
  });
});
