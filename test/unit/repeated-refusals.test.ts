// A rate-limit refusal asked again within the wait it gave is not recorded again
// (router/mcp/repeated-refusals.ts): per caller (tenant and agent), until the wait has passed, and
// with a bounded memory of callers.
import { describe, expect, it } from 'vitest';
import { RepeatedRefusals, repeatedRefusal } from '../../router/mcp/repeated-refusals.ts';

const refusal = (wait: number) => ({ code: 'rate_limit_exceeded', retry_after_ms: wait });

describe('repeated rate-limit refusals', () => {
  it('records a refusal, then none of the same caller until its wait has passed', () => {
    let now = 1_000;
    const refusals = new RepeatedRefusals({ now: () => now });
    const a = { tenant: 't', agent: 'a' };
    expect(repeatedRefusal(refusals, a, refusal(500))).toBe(false);
    now += 499;
    expect(repeatedRefusal(refusals, a, refusal(500))).toBe(true);
    // Another agent, and the same agent id of another tenant, are callers of their own.
    expect(repeatedRefusal(refusals, { tenant: 't', agent: 'b' }, refusal(500))).toBe(false);
    expect(repeatedRefusal(refusals, { tenant: 'u', agent: 'a' }, refusal(500))).toBe(false);
    now += 1;
    expect(repeatedRefusal(refusals, a, refusal(500))).toBe(false);
  });

  it('records every answer that is not a rate-limit refusal, and everything without a memory', () => {
    const refusals = new RepeatedRefusals({ now: () => 0 });
    const a = { tenant: 't', agent: 'a' };
    expect(repeatedRefusal(refusals, a, refusal(60_000))).toBe(false);
    expect(repeatedRefusal(refusals, a, undefined)).toBe(false);
    expect(repeatedRefusal(refusals, a, { code: 'unknown_tool' })).toBe(false);
    expect(repeatedRefusal(refusals, a, { code: 'concurrency_limit', retry_after_ms: 10 })).toBe(false);
    expect(repeatedRefusal(undefined, a, refusal(60_000))).toBe(false);
  });

  it('forgets the least recently refused caller past its bound, which is then recorded again', () => {
    const refusals = new RepeatedRefusals({ maxCallers: 2, now: () => 0 });
    const caller = (agent: string) => ({ tenant: 't', agent });
    for (const agent of ['a', 'b', 'c'])
      expect(repeatedRefusal(refusals, caller(agent), refusal(9))).toBe(false);
    expect(repeatedRefusal(refusals, caller('c'), refusal(9))).toBe(true);
    expect(repeatedRefusal(refusals, caller('a'), refusal(9))).toBe(false);
  });
});
