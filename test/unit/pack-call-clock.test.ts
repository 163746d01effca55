// The call timeout of a pack call (runtime-image/src/packs/pack-call-clock.ts) counts the pack's own
// time: it stops while a question of the pack waits for its answer, and goes on with what was left.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PackCallClock } from '../../runtime-image/src/packs/pack-call-clock.ts';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

/** A question answered after `ms`. */
const answeredAfter = (ms: number) => () =>
  new Promise<string>((resolve) => setTimeout(() => resolve('answer'), ms));

describe('the call clock of a pack call', () => {
  it('runs out at the budget when the pack asks nothing', () => {
    const clock = new PackCallClock(100);
    vi.advanceTimersByTime(99);
    expect(clock.expired).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.expired).toBe(true);
    expect(clock.signal.reason).toMatchObject({ code: expect.stringMatching(/TIMEOUT/i) });
  });

  it('stops while a question waits, however long, and goes on with what was left after the answer', async () => {
    const clock = new PackCallClock(100);
    vi.advanceTimersByTime(60);
    const answer = clock.whileWaiting(answeredAfter(10_000));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await answer).toBe('answer');
    expect(clock.expired).toBe(false);
    // 40 ms were left: a pack that hangs after its answer is still caught.
    vi.advanceTimersByTime(39);
    expect(clock.expired).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.expired).toBe(true);
  });

  it('goes on after a question that fails, and stops with the call', async () => {
    const clock = new PackCallClock(100);
    await expect(clock.whileWaiting(() => Promise.reject(new Error('no answer')))).rejects.toThrow();
    vi.advanceTimersByTime(100);
    expect(clock.expired).toBe(true);
    const stopped = new PackCallClock(100);
    stopped.stop();
    vi.advanceTimersByTime(1_000);
    expect(stopped.expired).toBe(false);
  });

  it('does not start again when a question ends after the call did', async () => {
    const clock = new PackCallClock(100);
    const answer = clock.whileWaiting(answeredAfter(50));
    clock.stop();
    await vi.advanceTimersByTimeAsync(50);
    await answer;
    vi.advanceTimersByTime(1_000);
    expect(clock.expired).toBe(false);
  });
});
