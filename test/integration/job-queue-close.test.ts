// A job queue's producer closed (supervisor/client/job-queue-close.ts) while a command of its queue
// connection waits for Redis's answer: the command is answered, not rejected by the forced close.
// BullMQ's `waitUntilFinished` (which job-request.ts no longer uses) left such a command (its last
// `isFinished` check) inside an async Promise executor after the job's completion event had
// answered its caller, where a rejection was one no one handles: it ended the tenants CLI after
// its `list` in the fresh-clone CI. Real Redis (the shared one, every key under the test's own
// prefix).
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { closeJobQueue } from '../../supervisor/client/job-queue-close.ts';
import { REDIS_URL } from '../support/namespace.ts';

const PREFIX = `t-queue-close-${randomBytes(3).toString('hex')}`;
const connection = { ...parseRedisUrl(REDIS_URL), maxRetriesPerRequest: null };
const cleanup = new Queue('close', { connection, prefix: PREFIX });

afterAll(async () => {
  await cleanup.obliterate({ force: true });
  await cleanup.close();
});

describe('a job queue closed with a command in flight', () => {
  it('lets Redis answer it before the connection is closed', async () => {
    const queue = new Queue('close', { connection, prefix: PREFIX });
    const events = new QueueEvents('close', { connection, prefix: PREFIX });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const client = await queue.getBackend().connection.client;
    await client.set(`${PREFIX}:seen`, 'answered');
    // Sent now, answered after the close has begun: no turn of the event loop between them.
    const inFlight = client.get(`${PREFIX}:seen`);
    // A close that waited on Redis (BullMQ's own) would fail the test at its timeout.
    await closeJobQueue(queue, events);
    expect(await inFlight).toBe('answered');
    await (await cleanup.getBackend().connection.client).del(`${PREFIX}:seen`);
  });
});
