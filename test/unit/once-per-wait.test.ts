// Once per wait, per caller (router/pipeline/once-per-wait.ts): the first refusal of a caller is
// let through, then none until the wait it was given has passed, and the next one let through says
// how many were held back since. What bounds both the audit records and the log lines of a loop.
import { describe, expect, it } from 'vitest';
import { OncePerWait } from '../../router/pipeline/once-per-wait.ts';

describe('once per wait', () => {
  it('lets the first through, holds the rest within its wait, then counts them on the next', () => {
    let now = 1_000;
    const waits = new OncePerWait({ now: () => now });
    const a = { tenant: 't', agent: 'a' };
    expect(waits.pass(a, 500)).toBe(0);
    for (let i = 0; i < 3; i++) {
      now += 100;
      expect(waits.pass(a, 500)).toBeUndefined();
    }
    // Another agent, and the same agent id of another tenant, are callers of their own.
    expect(waits.pass({ tenant: 't', agent: 'b' }, 500)).toBe(0);
    expect(waits.pass({ tenant: 'u', agent: 'a' }, 500)).toBe(0);
    now = 1_500;
    expect(waits.pass(a, 2_000)).toBe(3);
    // The count starts again from the one let through, and its own wait applies.
    now += 1_999;
    expect(waits.pass(a, 2_000)).toBeUndefined();
    now += 1;
    expect(waits.pass(a, 2_000)).toBe(1);
  });

  it('forgets the caller let through longest ago past its bound: let through again, its count lost', () => {
    const waits = new OncePerWait({ maxCallers: 2, now: () => 0 });
    const caller = (agent: string) => ({ tenant: 't', agent });
    expect(waits.pass(caller('a'), 9)).toBe(0);
    expect(waits.pass(caller('a'), 9)).toBeUndefined();
    for (const agent of ['b', 'c']) expect(waits.pass(caller(agent), 9)).toBe(0);
    expect(waits.pass(caller('c'), 9)).toBeUndefined();
    expect(waits.pass(caller('a'), 9)).toBe(0);
  });
});
