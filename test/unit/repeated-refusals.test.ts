// A rate-limit refusal asked again within the wait it gave is not recorded again
// (router/mcp/repeated-refusals.ts): per caller (tenant and agent), until the wait has passed, and
// with a bounded memory of callers. What is left out is accounted for: the next recorded refusal
// carries it (`repeats`), and a caller that stops asking, or that the memory forgets, or that the
// router closes on, gets a summary record of kind `refusals`.
import { describe, expect, it } from 'vitest';
import { AuditEventSchema, type AuditEvent } from '../../kernel/audit/audit-record.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { RepeatedRefusals, refusalAudit } from '../../router/mcp/repeated-refusals.ts';

/** The router's own refusal, as its rate limiter answers it (kernel/tools/tool-errors.ts). */
const refusal = (wait: number) =>
  toolError('rate_limit_exceeded', 'spent', { retry_after_ms: wait }).structuredContent.error;
const caller = (agent: string, tenant = 't') => ({ tenant, user: null, agent });

/** A memory whose clock the test moves, and the summaries it wrote. */
function memory(options: { maxCallers?: number } = {}) {
  const clock = { now: 1_000 };
  const written: AuditEvent[] = [];
  const refusals = new RepeatedRefusals({
    ...options,
    now: () => clock.now,
    write: (summary) => {
      written.push(AuditEventSchema.parse(summary));
      return Promise.resolve();
    },
  });
  return { clock, written, refusals };
}

describe('repeated rate-limit refusals', () => {
  it('records a refusal, then none of the same caller until its wait has passed', () => {
    const { clock, refusals } = memory();
    const a = caller('a');
    expect(refusalAudit(refusals, a, refusal(500), 'x')).toEqual({ recorded: true });
    clock.now += 499;
    expect(refusalAudit(refusals, a, refusal(500), 'x')).toEqual({ recorded: false });
    // Another agent, and the same agent id of another tenant, are callers of their own.
    expect(refusalAudit(refusals, caller('b'), refusal(500), 'x').recorded).toBe(true);
    expect(refusalAudit(refusals, caller('a', 'u'), refusal(500), 'x').recorded).toBe(true);
    clock.now += 1;
    expect(refusalAudit(refusals, a, refusal(500), 'y')).toEqual({
      recorded: true,
      repeats: { count: 1, tools: ['x'], others: 0 },
    });
  });

  it('records every answer that is not a rate-limit refusal, and everything without a memory', () => {
    const { refusals } = memory();
    const a = caller('a');
    expect(refusalAudit(refusals, a, refusal(60_000), 'x').recorded).toBe(true);
    expect(refusalAudit(refusals, a, undefined, 'x')).toEqual({ recorded: true });
    expect(refusalAudit(refusals, a, { code: 'unknown_tool' }, 'x')).toEqual({ recorded: true });
    expect(refusalAudit(refusals, a, { code: 'concurrency_limit', retry_after_ms: 10 }, 'x').recorded).toBe(
      true,
    );
    expect(refusalAudit(undefined, a, refusal(60_000), 'x')).toEqual({ recorded: true });
  });

  it("records every answer of a runtime that names the router's refusal, whatever its wait", () => {
    const { refusals } = memory();
    const a = caller('a');
    // What a tenant runtime sends arrives parsed from its JSON: never a refusal the router built.
    const forged = JSON.parse(JSON.stringify(refusal(3_600_000))) as unknown;
    for (let i = 0; i < 3; i++) expect(refusalAudit(refusals, a, forged, 'x')).toEqual({ recorded: true });
    expect(refusals.size).toBe(0);
    // Nor does it hold the router's own refusals of the caller back.
    expect(refusalAudit(refusals, a, refusal(500), 'x')).toEqual({ recorded: true });
  });

  it('keeps a tenant onboarded again under the id apart, and names whose summary it writes', async () => {
    const clock = { now: 1_000 };
    const written: [string | undefined, number | undefined][] = [];
    const refusals = new RepeatedRefusals({
      now: () => clock.now,
      write: (summary, createdAt) => {
        written.push([createdAt, summary.repeats?.count]);
        return Promise.resolve();
      },
    });
    const earlier = { ...caller('a'), tenantCreatedAt: '2026-01-01T00:00:00.000Z' };
    const later = { ...caller('a'), tenantCreatedAt: '2026-02-01T00:00:00.000Z' };
    refusals.record(earlier, 60_000, 'x');
    refusals.record(earlier, 60_000, 'x');
    // Within the earlier one's wait: the later tenant's agent of the same id is a caller of its own.
    expect(refusals.record(later, 60_000, 'x')).toEqual({ recorded: true });
    refusals.record(later, 60_000, 'x');
    await refusals.close();
    expect(written).toEqual([
      ['2026-01-01T00:00:00.000Z', 1],
      ['2026-02-01T00:00:00.000Z', 1],
    ]);
  });

  it('counts what it leaves out: at most 16 distinct names, each cut as a record cuts it, the rest counted', () => {
    const { clock, refusals } = memory();
    const a = caller('a');
    refusals.record(a, 1_000, 'first');
    const long = 'n'.repeat(5_000);
    for (let i = 0; i < 40; i++) refusals.record(a, 1_000, `tool-${i % 20}`);
    refusals.record(a, 1_000, long);
    clock.now += 1_000;
    const next = refusals.record(a, 1_000, 'again');
    expect(next.recorded && next.repeats).toEqual({
      count: 41,
      tools: Array.from({ length: 16 }, (_, i) => `tool-${i}`),
      // tool-16 to tool-19 twice each, and the long name.
      others: 9,
    });
    const { data } = AuditEventSchema.safeParse({
      tenant: 't',
      user: null,
      agent: 'a',
      tool: 'x',
      decision: 'deny',
      reason: 'r',
      repeats: next.recorded && next.repeats,
    });
    expect(data?.repeats?.count).toBe(41);
    // A name past 128 characters is kept cut, never whole.
    const cut = memory();
    cut.refusals.record(a, 1_000, 'first');
    cut.refusals.record(a, 1_000, long);
    cut.clock.now += 1_000;
    const after = cut.refusals.record(a, 1_000, 'again');
    expect(after.recorded && after.repeats && after.repeats.tools).toEqual([
      `${'n'.repeat(128)}...(5000 chars)`,
    ]);
  });

  it('writes a summary of a caller that stopped asking once its wait has passed, and forgets it', async () => {
    const { clock, written, refusals } = memory();
    const a = { tenant: 't', user: 'u', agent: 'a' };
    refusals.record(a, 2_000, 'x');
    refusals.record(a, 2_000, 'x');
    refusals.record(a, 2_000, 'y');
    // A caller refused once and never again leaves nothing more to write.
    refusals.record(caller('b'), 2_000, 'x');
    clock.now += 1_999;
    await refusals.sweep();
    expect(written).toEqual([]);
    expect(refusals.size).toBe(2);
    clock.now += 1;
    await refusals.sweep();
    expect(written).toEqual([
      {
        tenant: 't',
        user: 'u',
        agent: 'a',
        tool: 'rate_limit_exceeded',
        decision: 'deny',
        reason: 'rate_limit_exceeded',
        kind: 'refusals',
        repeats: { count: 2, tools: ['x', 'y'], others: 0 },
      },
    ]);
    expect(refusals.size).toBe(0);
    // Counted once: its next refusal is recorded without repeats.
    expect(refusals.record(a, 2_000, 'x')).toEqual({ recorded: true });
  });

  it('writes what every caller left out when closed, its wait passed or not', async () => {
    const { written, refusals } = memory();
    for (const agent of ['a', 'b', 'c']) {
      refusals.record(caller(agent), 60_000, 'x');
      if (agent !== 'c') refusals.record(caller(agent), 60_000, 'x');
    }
    await refusals.close();
    expect(written.map((w) => [w.agent, w.repeats?.count])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(refusals.size).toBe(0);
  });

  it('forgets the least recently refused caller past its bound, writing what it left out first', async () => {
    const { written, refusals } = memory({ maxCallers: 2 });
    refusals.record(caller('a'), 9, 'x');
    refusals.record(caller('a'), 9, 'x');
    for (const agent of ['b', 'c']) expect(refusals.record(caller(agent), 9, 'x').recorded).toBe(true);
    expect(refusals.size).toBe(2);
    await Promise.resolve();
    expect(written.map((w) => [w.agent, w.repeats?.count])).toEqual([['a', 1]]);
    expect(refusals.record(caller('c'), 9, 'x').recorded).toBe(false);
    expect(refusals.record(caller('a'), 9, 'x').recorded).toBe(true);
  });

  it('accounts for every refusal: recorded ones plus the counts they and the summaries carry', async () => {
    const { clock, written, refusals } = memory({ maxCallers: 4 });
    let recorded = 0;
    let carried = 0;
    // Five callers, four remembered: 'e' now and then makes the memory forget one.
    const agents = ['a', 'b', 'c'];
    for (let i = 0; i < 2_000; i++) {
      clock.now += (i * 7919) % 5;
      const audit = refusals.record(
        caller(i % 50 === 0 ? 'e' : i % 10 === 0 ? 'd' : agents[i % 3]!),
        50 + (i % 90),
        `tool-${i % 23}`,
      );
      if (audit.recorded) {
        recorded += 1;
        carried += audit.repeats?.count ?? 0;
      }
      if (i % 97 === 0) await refusals.sweep();
    }
    await refusals.close();
    await Promise.resolve();
    const summarized = written.reduce((sum, w) => sum + (w.repeats?.count ?? 0), 0);
    expect(recorded).toBeLessThan(400);
    expect(written.length).toBeGreaterThan(0);
    expect(recorded + carried + summarized).toBe(2_000);
  });
});
