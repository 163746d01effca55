// Which failures of a real ioredis client are Redis giving no answer (the console answers them
// state_unavailable): a client of a socket no Redis listens on, with the console's one retry; one
// that queues nothing while down; one used after it disconnected. An error Redis or our code gives
// with an answer is not one.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { unansweredByRedis } from '../../kernel/redis/redis-unanswered.ts';

/** A unix socket path no Redis listens on. */
const NOWHERE = join(tmpdir(), `bulkhead-no-redis-${process.pid}.sock`);

/** A client of no Redis, its connection errors (logged by ioredis otherwise) ignored. */
function client(options: { maxRetriesPerRequest?: number; enableOfflineQueue?: boolean } = {}): Redis {
  const redis = new Redis({ path: NOWHERE, lazyConnect: true, ...options });
  redis.on('error', () => undefined);
  return redis;
}

/** What `command` of `redis` is rejected with; the client disconnected after. */
async function failureOf(redis: Redis, command: (redis: Redis) => Promise<unknown>): Promise<unknown> {
  try {
    return await command(redis).then(
      () => new Error('answered'),
      (error: unknown) => error,
    );
  } finally {
    redis.disconnect();
  }
}

describe('unansweredByRedis', () => {
  it('is true of what ioredis rejects a command with when Redis does not answer', async () => {
    const closed = client();
    closed.disconnect();
    const failures = [
      await failureOf(client({ maxRetriesPerRequest: 1 }), (r) => r.get('k')),
      await failureOf(client({ maxRetriesPerRequest: 1 }), (r) => r.multi().get('k').set('k', '1').exec()),
      await failureOf(client({ enableOfflineQueue: false }), (r) => r.get('k')),
      await failureOf(closed, (r) => r.get('k')),
    ];
    expect(failures.map((e) => (e as Error).name)).toEqual([
      'MaxRetriesPerRequestError',
      'MaxRetriesPerRequestError',
      'Error',
      'Error',
    ]);
    for (const failure of failures) expect(unansweredByRedis(failure)).toBe(true);
  });

  it('is false of an answer that is an error, and of anything else', () => {
    for (const other of [
      new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      new BulkheadError('state_unavailable', 'Redis did not answer the session read in 5000 ms'),
      new TypeError('x is not a function'),
      'Connection is closed.',
      undefined,
    ])
      expect(unansweredByRedis(other)).toBe(false);
  });
});
