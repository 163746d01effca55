// The router's Redis deadline (router/pipeline/state-guard.ts) after an event-loop stall: a router
// whose event loop was held for longer than the deadline (a busy machine) takes the answers Redis
// sent meanwhile, which wait in the socket, instead of failing their commands because a timer ran
// first. Against a Redis that answers nothing (a redis-server of the test's own, frozen with
// SIGSTOP) a command still fails at the deadline. The stall is this test holding the event loop.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { StateRedis, withinDeadline } from '../../router/pipeline/state-guard.ts';
import { REDIS_URL } from '../support/namespace.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const DEADLINE_MS = 100;
const PASSWORD = `pw-${randomUUID()}`;

/** Holds the event loop, as a router starved of CPU is held: nothing is read meanwhile. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** A command's outcome: its answer, or the error it failed with. */
function settled(work: Promise<unknown>): Promise<{ answer?: unknown; error?: unknown }> {
  return work.then(
    (answer) => ({ answer }),
    (error: unknown) => ({ error }),
  );
}

let state: StateRedis;
let plain: Redis;
let silent: PrivateRedis;
let frozen: StateRedis;

beforeAll(async () => {
  state = new StateRedis({ ...parseRedisUrl(REDIS_URL), lazyConnect: true }, { deadlineMs: DEADLINE_MS });
  plain = new Redis({ ...parseRedisUrl(REDIS_URL), lazyConnect: true });
  silent = await startPrivateRedis({ password: PASSWORD });
  frozen = new StateRedis(
    { port: silent.port, password: PASSWORD, lazyConnect: true },
    { deadlineMs: DEADLINE_MS },
  );
  for (const client of [state, plain, frozen]) client.on('error', () => undefined);
  await Promise.all([state.connect(), plain.connect(), frozen.connect()]);
});

afterAll(async () => {
  silent?.thaw();
  state?.disconnect();
  plain?.disconnect();
  frozen?.disconnect();
  await silent?.stop();
});

describe("the router's Redis client after an event-loop stall", () => {
  it('takes an answer that arrived while the loop was held past the deadline', async () => {
    const key = `bulkhead:t-state-client-${randomUUID()}`;
    await plain.set(key, 'kept', 'EX', 60);
    // Sent now (ioredis writes at once on a ready connection); answered while the loop is held.
    const reads = [state.get(key), state.ping(), state.get(key)].map(settled);
    stall(DEADLINE_MS * 3);
    expect(await Promise.all(reads)).toEqual([{ answer: 'kept' }, { answer: 'PONG' }, { answer: 'kept' }]);
    await plain.del(key);
  });

  it('still fails a command Redis does not answer, at the deadline', async () => {
    silent.freeze();
    const started = performance.now();
    const outcome = await settled(frozen.ping());
    const waited = performance.now() - started;
    silent.thaw();
    // The deadline's own error: a command that waited on would fail the test at its timeout.
    expect((outcome.error as Error | undefined)?.message).toBe('Command timed out');
    expect(waited).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    await expect(frozen.ping()).resolves.toBe('PONG');
  });
});

describe('withinDeadline after an event-loop stall', () => {
  it('passes through an answer that arrived while the loop was held past the deadline', async () => {
    // The plain client sets no timeout of its own: only withinDeadline's deadline is under test.
    const answer = settled(withinDeadline(plain.ping(), { deadlineMs: DEADLINE_MS }));
    stall(DEADLINE_MS * 3);
    expect(await answer).toEqual({ answer: 'PONG' });
  });

  it('answers state_unavailable when Redis does not answer', async () => {
    const never = new Redis({ port: silent.port, password: PASSWORD, lazyConnect: true });
    never.on('error', () => undefined);
    await never.connect();
    silent.freeze();
    const { error } = await settled(withinDeadline(never.ping(), { deadlineMs: DEADLINE_MS }));
    silent.thaw();
    never.disconnect();
    expect(isBulkheadError(error) && error.code).toBe('state_unavailable');
  });
});
