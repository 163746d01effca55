// A RuntimeClient (the console's, the router's and the tenants CLI's way to the supervisor) closed
// while its Redis restarts: its close returns and its process exits, whatever state the
// client's BullMQ connections are in. Before, a close while they were between reconnection
// attempts never returned (QueueEvents.close waited for an `end` event ioredis never emits then:
// supervisor/client/job-queue-close.ts). A job still waited for at the close fails by the close
// and holds nothing, and one asked for once it began is not submitted (job-request.ts). The client's
// own timers there are longer than the test's timeout (runtime-client-main.ts): a close that hangs,
// or leaves one running, fails the test however slow the machine. A redis-server
// of the test's own (private-redis.ts), stopped and started again; the client in a process of its
// own (runtime-client-main.ts), but for the last test's.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { jobQueueClosed } from '../../supervisor/client/job-request.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import { RUNTIME_QUEUE } from '../../supervisor/client/runtime-jobs.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const MAIN = new URL('../support/runtime-client-main.ts', import.meta.url).pathname;
const PREFIX = `t-client-close-${randomBytes(3).toString('hex')}`;

let server: PrivateRedis;
let url: string;

beforeAll(async () => {
  const password = randomBytes(12).toString('hex');
  server = await startPrivateRedis({ name: PREFIX, password, unixSocket: true, persistent: true });
  url = `unix://:${password}@localhost${server.socketPath!}`;
});

/** Client processes not yet ended: one a failed test left waiting on its timers goes with the file. */
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.stop();
});

/**
 * Starts a client process (`waiting`: with an ensure waiting to be taken), runs `meanwhile`, then
 * closes the client: how its process exited by itself, and (`waiting`) the ensure's "settled" line.
 */
async function closeAfter(
  meanwhile: () => Promise<void>,
  mode?: 'waiting',
): Promise<{ exited: { code: number | null; signal: string | null }; settled?: string }> {
  const args = [MAIN, url, PREFIX, ...(mode ? [mode] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exit = once(child, 'exit');
  try {
    expect((await lines.next()).value).toBe('ready');
    await meanwhile();
    child.stdin.write('close\n');
    // The ensure's line, if one waits, may come before or after the close's.
    const said = [String((await lines.next()).value)];
    if (mode) said.push(String((await lines.next()).value));
    const closed = said.find((line) => line.startsWith('closed')) ?? '';
    expect(closed).toMatch(/^closed \d+$/);
    const [code, signal] = (await exit) as [number | null, string | null];
    const settled = said.find((line) => line.startsWith('settled'));
    return { exited: { code, signal }, ...(settled ? { settled } : {}) };
  } finally {
    child.kill('SIGKILL');
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a RuntimeClient closed while its Redis restarts', () => {
  it('closes and lets its process exit while Redis is stopped', async () => {
    let closed: Awaited<ReturnType<typeof closeAfter>>;
    try {
      closed = await closeAfter(async () => {
        await server.halt();
        // Long enough for a reconnection attempt or two (BullMQ's back-off: 1 s at first).
        await pause(2_500);
      });
    } finally {
      await server.resume();
    }
    expect(closed.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('closes and lets its process exit 100 ms after Redis is back', async () => {
    const { exited } = await closeAfter(async () => {
      await server.halt();
      await pause(2_500);
      await server.resume();
      await pause(100);
    });
    expect(exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('closes with Redis answering, and lets its process exit', async () => {
    const { exited } = await closeAfter(() => Promise.resolve());
    expect(exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  // A router shutting down closes its client after the drain cut the calls still in flight: their
  // waits for a cold start fail by the close, their timers cleared, and the process exits. Before,
  // each wait kept its timer to its deadline (60 s by default; past the test's timeout here), then
  // failed.
  it('fails a wait still pending by the close, and exits, with Redis answering', async () => {
    const { exited, settled } = await closeAfter(() => Promise.resolve(), 'waiting');
    // Failed by the close, in its words, not by its wait's deadline (which the test never reaches).
    expect(settled).toMatch(/^settled state_unavailable \d+ /);
    expect(settled!.split(' ').slice(3).join(' ')).toBe(jobQueueClosed().message);
    expect(exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

const codeOf = (error: unknown): string => (isBulkheadError(error) ? error.code : String(error));

describe('a RuntimeClient closing', () => {
  // A call that reaches the client as it closes (a router's drain cut it just then) is not
  // submitted: a job no one waits for would start a container for no one.
  it('submits no job asked for after its close began', async () => {
    const redis = parseRedisUrl(url);
    const prefix = `${PREFIX}-late`;
    const client = new RuntimeClient({ redis, prefix, timeoutMs: 30_000 });
    // A queue of the test's own, to count the jobs the client submitted.
    const counter = new Queue(RUNTIME_QUEUE, {
      connection: { ...redis, maxRetriesPerRequest: null },
      prefix,
    });
    try {
      await Promise.all([client.ready(), counter.waitUntilReady()]);
      const closed = client.close();
      const late = await Promise.all([
        client.ensure('late').catch(codeOf),
        client.requestRecycle('late', 'test').catch(codeOf),
      ]);
      await closed;
      expect(late).toEqual(['state_unavailable', 'state_unavailable']);
      expect(await counter.getJobCounts()).toMatchObject({ waiting: 0, prioritized: 0, delayed: 0 });
    } finally {
      await counter.obliterate({ force: true });
      await counter.close();
    }
  }, 60_000);
});
