// FlushTiming (kernel/redis/flush-timing.ts): a lone caller's batch goes once the current microtasks
// have run, before the turn's immediates; a batch asked for while another is in flight, or after a
// batch of several, waits for the turn's end (setImmediate); a spell of lone batches returns to
// sending at once.
import { describe, expect, it } from 'vitest';
import { FlushTiming } from '../../kernel/redis/flush-timing.ts';

/** Where `schedule` put the flush: before an immediate queued just ahead of it ('now'), or after. */
async function whenFlushed(timing: FlushTiming): Promise<'now' | 'turn'> {
  const order: string[] = [];
  const immediate = new Promise<void>((resolve) =>
    setImmediate(() => {
      order.push('immediate');
      resolve();
    }),
  );
  const flushed = new Promise<void>((resolve) =>
    timing.schedule(() => {
      order.push('flush');
      resolve();
    }),
  );
  await Promise.all([immediate, flushed]);
  return order[0] === 'flush' ? 'now' : 'turn';
}

describe('FlushTiming', () => {
  it('sends a lone caller at once and waits for the turn while a batch is in flight', async () => {
    const timing = new FlushTiming();
    expect(await whenFlushed(timing)).toBe('now');
    const settled = timing.sent(1);
    expect(await whenFlushed(timing)).toBe('turn');
    settled();
    settled(); // a second call changes nothing
    expect(await whenFlushed(timing)).toBe('now');
  });

  it('waits for the turn after a batch of several, until a batch holds one caller again', async () => {
    const timing = new FlushTiming();
    timing.sent(5)();
    expect(await whenFlushed(timing)).toBe('turn');
    timing.sent(1)();
    expect(await whenFlushed(timing)).toBe('now');
  });
});
