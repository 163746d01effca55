// scheduleFlush (kernel/redis/flush-timing.ts): a caller that is alone has its batch sent once the
// current microtasks have run, before the turn's immediates; any other waits for the turn's end.
import { describe, expect, it } from 'vitest';
import { scheduleFlush, type FlushRequest } from '../../kernel/redis/flush-timing.ts';

/** Whether the flush ran before an immediate queued just ahead of it ('now'), or after ('turn'). */
async function whenFlushed(request?: FlushRequest): Promise<'now' | 'turn'> {
  const order: string[] = [];
  const immediate = new Promise<void>((resolve) =>
    setImmediate(() => {
      order.push('immediate');
      resolve();
    }),
  );
  const flushed = new Promise<void>((resolve) =>
    scheduleFlush(() => {
      order.push('flush');
      resolve();
    }, request),
  );
  await Promise.all([immediate, flushed]);
  return order[0] === 'flush' ? 'now' : 'turn';
}

describe('scheduleFlush', () => {
  it('sends a caller that is alone at once, and any other at the turn’s end', async () => {
    expect(await whenFlushed({ alone: true })).toBe('now');
    expect(await whenFlushed({ alone: false })).toBe('turn');
    expect(await whenFlushed()).toBe('turn');
  });
});
