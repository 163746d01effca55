// The one scheduler of a process's loops, on fake timers: passes come every interval, one task never
// overlaps itself, a failure is logged once and the loop goes on, and stop() waits for a running pass.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../kernel/process/scheduler.ts';

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function recorder(): { warn: (obj: unknown, msg: string) => void; lines: { obj: unknown; msg: string }[] } {
  const lines: { obj: unknown; msg: string }[] = [];
  return { lines, warn: (obj, msg) => lines.push({ obj, msg }) };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Scheduler', () => {
  it('runs each task every interval, several tasks on their own intervals', async () => {
    const scheduler = new Scheduler({ logger: recorder() });
    const runs: string[] = [];
    scheduler.every('fast', 100, () => Promise.resolve(runs.push('fast')));
    scheduler.every('slow', 250, () => Promise.resolve(runs.push('slow')));
    await vi.advanceTimersByTimeAsync(99);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual(['fast']);
    await vi.advanceTimersByTimeAsync(400);
    expect(runs.filter((r) => r === 'fast')).toHaveLength(5);
    expect(runs.filter((r) => r === 'slow')).toHaveLength(2);
    await scheduler.stop();
  });

  it('never starts a pass of a task while its previous pass runs', async () => {
    const scheduler = new Scheduler({ logger: recorder() });
    let running = 0;
    let peak = 0;
    let passes = 0;
    const gates: Gate[] = [];
    scheduler.every('slow', 10, async () => {
      running += 1;
      passes += 1;
      peak = Math.max(peak, running);
      const g = gate();
      gates.push(g);
      await g.promise;
      running -= 1;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(passes).toBe(1);
    // Ten intervals go by while the first pass hangs: no second pass starts.
    await vi.advanceTimersByTimeAsync(100);
    expect(passes).toBe(1);
    gates[0]!.open();
    // Overdue: the next pass starts at once, not an interval later.
    await vi.advanceTimersByTimeAsync(0);
    expect(passes).toBe(2);
    gates[1]!.open();
    await vi.advanceTimersByTimeAsync(10);
    expect(passes).toBe(3);
    expect(peak).toBe(1);
    gates[2]!.open();
    await scheduler.stop();
  });

  it('logs a failed pass once and runs the task again at the next interval', async () => {
    const logger = recorder();
    const scheduler = new Scheduler({ logger });
    let passes = 0;
    scheduler.every('flaky', 50, () => {
      passes += 1;
      return passes === 1 ? Promise.reject(new Error('boom')) : Promise.resolve();
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(logger.lines).toEqual([
      {
        obj: { err: expect.objectContaining({ message: 'boom' }), loop: 'flaky' },
        msg: 'periodic pass failed',
      },
    ]);
    await vi.advanceTimersByTimeAsync(50);
    expect(passes).toBe(2);
    expect(logger.lines).toHaveLength(1);
    await scheduler.stop();
  });

  it('stop() waits for a running pass and starts no other', async () => {
    const scheduler = new Scheduler({ logger: recorder() });
    const g = gate();
    let finished = false;
    let passes = 0;
    scheduler.every('long', 10, async () => {
      passes += 1;
      await g.promise;
      finished = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    g.open();
    await stopping;
    expect(finished).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(passes).toBe(1);
    expect(() => scheduler.every('late', 10, () => Promise.resolve())).toThrow(/stopped/);
  });

  it('keeps one timer for all its tasks', async () => {
    const scheduler = new Scheduler({ logger: recorder() });
    for (let i = 0; i < 5; i++) scheduler.every(`task-${i}`, 100 + i, () => Promise.resolve());
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(vi.getTimerCount()).toBe(1);
    await scheduler.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
