// A supervisor job asked for while the job queue's Redis stops answering with its connections open
// (frozen, not down): the RuntimeClient's ensure and requestRecycle and the PackClient's build each
// fail `state_unavailable` (transient, retry after 1 s) at the client's deadline, which the
// submission and the wait for the outcome share (supervisor/client/job-request.ts). Before, the
// submission (`queue.add`) had no bound at all and these calls waited for good. A redis-server of
// the test's own (private-redis.ts) behind a relay that holds the job's submission and everything
// after it (freezing-proxy.ts `freezeAt`); the held job lands once Redis answers again. The wait
// for a job submitted just before Redis froze fails at the deadline, and closing its job queue then
// leaves no rejection unhandled: BullMQ's `waitUntilFinished` left one (its check of the job, cut
// off by the close, inside an async Promise executor), which ends a process.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RedisSocketConnection } from '../../kernel/redis/connection.ts';
import { PackClient } from '../../supervisor/client/pack-client.ts';
import { closeJobQueue } from '../../supervisor/client/job-queue-close.ts';
import { requestJob } from '../../supervisor/client/job-request.ts';
import { PACK_QUEUE } from '../../supervisor/client/pack-jobs.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import { RUNTIME_QUEUE } from '../../supervisor/client/runtime-jobs.ts';
import { startRelayedRedis, type RelayedRedis } from '../support/freezing-proxy.ts';
import { until } from '../support/until.ts';

const PREFIX = `t-job-frozen-${randomBytes(3).toString('hex')}`;
const TIMEOUT_MS = 1_000;

/** The relayed Redis, a connection that goes past the relay, and the clients that go through it. */
let setup: { redis: RelayedRedis; direct: RedisSocketConnection; runtimes: RuntimeClient; packs: PackClient };

beforeAll(async () => {
  const redis = await startRelayedRedis('job-queue-frozen');
  const direct = { path: redis.server.socketPath!, password: redis.password, db: 0 };
  const relayed = { ...direct, path: redis.proxy.socketPath };
  setup = {
    redis,
    direct,
    runtimes: new RuntimeClient({ redis: relayed, prefix: PREFIX, timeoutMs: TIMEOUT_MS }),
    packs: new PackClient({ redis: relayed, prefix: PREFIX, timeoutMs: TIMEOUT_MS }),
  };
  await Promise.all([setup.runtimes.ready(), setup.packs.ready()]);
}, 30_000);

afterAll(async () => {
  setup?.redis.proxy.thaw();
  await setup?.runtimes.close();
  await setup?.packs.close();
  await setup?.redis.close();
}, 30_000);

/** What `request` failed with once the relay held the command carrying `marker`, and when. */
async function frozenAt(
  marker: string,
  request: () => Promise<unknown>,
): Promise<{ error: unknown; ms: number }> {
  setup.redis.proxy.freezeAt(marker);
  const started = performance.now();
  try {
    const error = await request().then(
      () => new Error('answered although Redis was frozen'),
      (failure: unknown) => failure,
    );
    return { error, ms: performance.now() - started };
  } finally {
    setup.redis.proxy.thaw();
  }
}

function expectNotSubmitted({ error, ms }: { error: unknown; ms: number }, job: string): void {
  expect(isBulkheadError(error, 'state_unavailable')).toBe(true);
  expect(error).toMatchObject({ code: 'state_unavailable', errorClass: 'transient', retryAfterMs: 1_000 });
  // Only the deadline says this (a frozen Redis answers no error): a hang, what this guards against,
  // never ends, and fails the test at its timeout however slow the machine; a load that delays the
  // deadline's answer fails nothing.
  expect((error as Error).message).toContain(`did not take the ${job} job within ${TIMEOUT_MS} ms`);
  expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
}

/** The jobs of `name` waiting in `queue` (nothing works them here), read past the relay. */
async function waiting(queue: string, name: string): Promise<number> {
  const reader = new Queue(queue, { connection: setup.direct, prefix: PREFIX });
  try {
    return (await reader.getWaiting()).filter((job) => job.name === name).length;
  } finally {
    await reader.close();
  }
}

describe('a supervisor job asked for while the job queue Redis is frozen', () => {
  it('fails an ensure state_unavailable at the deadline; the held job lands once Redis answers', async () => {
    expectNotSubmitted(
      await frozenAt('"tenantId":"ensured"', () => setup.runtimes.ensure('ensured')),
      'ensure',
    );
    // Thawed: what was held reaches Redis, the job for nobody with it (runtime-client.ts, run).
    await until(async () => (await waiting(RUNTIME_QUEUE, 'ensure')) === 1, 'the held ensure job to land');
  });

  it('fails a requestRecycle state_unavailable at the deadline; the held job lands later', async () => {
    const asked = await frozenAt('"tenantId":"recycled"', () =>
      setup.runtimes.requestRecycle('recycled', 'socket tampered with', { failed: true }),
    );
    expectNotSubmitted(asked, 'recycle');
    await until(async () => (await waiting(RUNTIME_QUEUE, 'recycle')) === 1, 'the held recycle job to land');
  });

  it("fails a PackClient's build state_unavailable at the deadline; the held job lands later", async () => {
    const packDir = join(setup.redis.dir, 'pack-frozen');
    expectNotSubmitted(await frozenAt(`"dir":"${packDir}"`, () => setup.packs.build(packDir)), 'build');
    await until(async () => (await waiting(PACK_QUEUE, 'build')) === 1, 'the held build job to land');
  });

  it('fails a wait whose outcome Redis holds at the deadline, and closes with no rejection left', async () => {
    const relayed = { ...setup.direct, path: setup.redis.proxy.socketPath, maxRetriesPerRequest: null };
    const jobs = {
      queue: new Queue('waited', { connection: relayed, prefix: PREFIX }),
      events: new QueueEvents('waited', { connection: relayed, prefix: PREFIX }),
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await Promise.all([jobs.queue.waitUntilReady(), jobs.events.waitUntilReady()]);
      // The submission answered, Redis freezes: the wait's check whether the job finished already
      // (its next command) is held, and so is the event stream.
      jobs.queue.once('waiting', () => setup.redis.proxy.freezeAt(''));
      const started = performance.now();
      const error = await requestJob(
        jobs,
        { name: 'inspect', data: { tenantId: 'waited' } },
        { timeoutMs: TIMEOUT_MS, failed: (failure) => failure },
      ).then(
        () => new Error('answered although Redis was frozen'),
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(Error);
      // The deadline's own answer (after its last check, LAST_CHECK_MS): a wait that did not end
      // would fail the test at its timeout.
      expect((error as Error).message).toMatch(
        /^no outcome of the inspect job \(id \S+\) came within \d+ ms$/,
      );
      expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      // Closed while Redis still holds the check: the forced close cuts it off.
      await closeJobQueue(jobs.queue, jobs.events);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    } finally {
      setup.redis.proxy.thaw();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('submits again once Redis answers: a requestPrepare is queued', async () => {
    await setup.runtimes.requestPrepare('prepared');
    expect(await waiting(RUNTIME_QUEUE, 'prepare')).toBe(1);
  });
});
