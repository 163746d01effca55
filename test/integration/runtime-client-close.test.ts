// A RuntimeClient (the console's, the router's and the tenants CLI's way to the supervisor) closed
// while its Redis restarts: its close returns at once and its process exits, whatever state the
// client's BullMQ connections are in. Before, a close while they were between reconnection
// attempts never returned (QueueEvents.close waited for an `end` event ioredis never emits then:
// supervisor/client/job-queue-close.ts). A redis-server of the test's own (private-redis.ts),
// stopped and started again; the client in a process of its own (runtime-client-main.ts).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTimeout } from '../support/audit-harness.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const MAIN = new URL('../support/runtime-client-main.ts', import.meta.url).pathname;
const PREFIX = `t-client-close-${randomBytes(3).toString('hex')}`;
/** How long a close may take; the exit adds ioredis's own 2 s bound on a socket's close. */
const CLOSE_BOUND_MS = 1_000;
const EXIT_BOUND_MS = 5_000;

let server: PrivateRedis;
let url: string;

beforeAll(async () => {
  const password = randomBytes(12).toString('hex');
  server = await startPrivateRedis({ name: PREFIX, password, unixSocket: true, persistent: true });
  url = `unix://:${password}@localhost${server.socketPath!}`;
});

afterAll(async () => {
  await server?.stop();
});

/** Starts a client process, runs `meanwhile`, then closes the client: how long close and exit took. */
async function closeAfter(meanwhile: () => Promise<void>): Promise<{ closeMs: number; exited: boolean }> {
  const child = spawn(process.execPath, [MAIN, url, PREFIX], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exit = once(child, 'exit');
  try {
    expect((await withTimeout(lines.next(), 15_000)).value).toBe('ready');
    await meanwhile();
    const asked = performance.now();
    child.stdin.write('close\n');
    const closed = String((await withTimeout(lines.next(), 10_000)).value);
    expect(closed).toMatch(/^closed \d+$/);
    await withTimeout(exit, 10_000);
    return {
      closeMs: Number(closed.split(' ')[1]),
      exited: performance.now() - asked < EXIT_BOUND_MS,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a RuntimeClient closed while its Redis restarts', () => {
  it('closes at once and lets its process exit while Redis is stopped', async () => {
    let closed: { closeMs: number; exited: boolean };
    try {
      closed = await closeAfter(async () => {
        await server.halt();
        // Long enough for a reconnection attempt or two (BullMQ's back-off: 1 s at first).
        await pause(2_500);
      });
    } finally {
      await server.resume();
    }
    const { closeMs, exited } = closed;
    expect(closeMs).toBeLessThan(CLOSE_BOUND_MS);
    expect(exited).toBe(true);
  }, 60_000);

  it('closes at once and lets its process exit 100 ms after Redis is back', async () => {
    const { closeMs, exited } = await closeAfter(async () => {
      await server.halt();
      await pause(2_500);
      await server.resume();
      await pause(100);
    });
    expect(closeMs).toBeLessThan(CLOSE_BOUND_MS);
    expect(exited).toBe(true);
  }, 60_000);

  it('closes at once with Redis answering', async () => {
    const { closeMs, exited } = await closeAfter(() => Promise.resolve());
    expect(closeMs).toBeLessThan(CLOSE_BOUND_MS);
    expect(exited).toBe(true);
  }, 60_000);
});
