// tools/list, which the router answers itself, is taken from listing budgets of its own
// (docs/rate-limits.md, "Listing"): with stock SDK clients against a real router and the real IdP, an
// agent looping on tools/list is refused past its share with the structured `rate_limit_exceeded`
// and `retry_after_ms`, the tenant's audit trail stops growing with it, the tenant's listings are
// bounded whatever the number of its agents, and a normal client start (initialize, tools/list, a
// call) works in every era under a call quota of one call a minute, which the listing does not spend.
// And an agent looping past its call budget leaves one record of its refusal a wait, not one per
// request (router/mcp/repeated-refusals.ts; docs/audit.md), and one line of the router's log a
// wait, with the count of those left out (router/pipeline/refusal-log.ts). `bulkhead quota`, run
// as an operator runs it, shows the listing budgets apart from the call budgets.
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { runCli } from '../support/cli.ts';
import { anotherAgentToken, bearerClient, v1BearerClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let redis: Redis;
let trail: AuditTrail;

/** The router's log lines of rate-limit refusals (router/pipeline/refusal-log.ts). */
interface RefusalLine {
  tenant?: string;
  msg?: string;
  /** When pino wrote it (ms since the epoch), and the wait the refusal was given. */
  time?: number;
  retry_after_ms?: number;
  unlogged_refusals?: number;
}
const refusalLines: RefusalLine[] = [];
const REFUSAL_MESSAGES = new Set(['rate limited', 'refused request rate limited']);
const logger = pino(
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString()) as RefusalLine;
      if (REFUSAL_MESSAGES.has(line.msg ?? '')) refusalLines.push(line);
      done();
    },
  }),
);
const linesOf = (tenant: string) => refusalLines.filter((line) => line.tenant === tenant);

// Call quotas far below the listing floors (60 a minute for the tenant, 30 for an agent): the
// listing budgets are those floors, and a listing that spent a call's budget would be seen at once.
const QUOTAS = { callsPerMinute: 2, callsPerDay: 100, agentCallsPerMinute: 1 };

beforeAll(async () => {
  stack = await startTestStack('listlimits', { logger });
  redis = new Redis(stack.ns.installation.redis);
  trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  for (const tenant of ['ls-loop', 'ls-modern', 'ls-legacy', 'ls-v1', 'ls-calls', 'ls-quota', 'ls-logs'])
    await stack.onboard(tenant, { quotas: QUOTAS });
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

interface RateError {
  error_class: string;
  code: string;
  retry_after_ms?: number;
  details?: { layer: string; limit: number; remaining: number };
}

/** The tenant's audit records of listings. */
async function listRecords(tenant: string): Promise<number> {
  return (await trail.entries(tenant)).filter((e) => e.kind === 'list').length;
}

/** The tenant's audit records of calls and relayed requests, by error code ('ok' for none). */
async function callRecords(tenant: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await trail.entries(tenant))
    if (e.kind === 'call') counts[e.error_code ?? 'ok'] = (counts[e.error_code ?? 'ok'] ?? 0) + 1;
  return counts;
}

/**
 * Lists until refused (at most `max` times): how many were answered, the refusal's structured
 * error, and how long it took (the budgets give one listing back every 1 or 2 s meanwhile).
 */
async function listUntilRefused(
  client: Client,
  max: number,
): Promise<{ answered: number; refusal?: RateError; code?: number; ms: number }> {
  const started = performance.now();
  let answered = 0;
  for (let i = 0; i < max; i++) {
    try {
      await client.listTools();
      answered += 1;
    } catch (error) {
      const { data, code } = error as { data?: RateError; code?: number };
      return { answered, refusal: data, code, ms: performance.now() - started };
    }
  }
  return { answered, ms: performance.now() - started };
}

describe('tools/list is charged to listing budgets', () => {
  it("refuses a looping agent past its listing share, with retry_after_ms, and the tenant's trail stops growing", async () => {
    const looping = await bearerClient(stack.mcpUrl, await stack.agentToken('ls-loop'));
    try {
      const first = await listUntilRefused(looping, 200);
      expect(first.refusal, `${first.answered} listings answered, none refused`).toMatchObject({
        error_class: 'rate_limit',
        code: 'rate_limit_exceeded',
        details: { layer: 'agent_list', limit: 30, remaining: 0 },
      });
      expect(first.code).toBe(-32000);
      expect(first.refusal?.retry_after_ms).toBeGreaterThan(0);
      expect(first.answered).toBeGreaterThanOrEqual(30);
      expect(first.answered).toBeLessThanOrEqual(30 + Math.ceil(first.ms / 2000));
      // Each answered listing left its record; the refused one none.
      expect(await listRecords('ls-loop')).toBe(first.answered);

      // Past the share, a loop of 50 more listings grows the trail only by what came back meanwhile.
      const started = performance.now();
      let answered = 0;
      for (let i = 0; i < 50; i++) answered += (await listUntilRefused(looping, 1)).answered;
      const ms = performance.now() - started;
      expect(answered).toBeLessThanOrEqual(Math.ceil(ms / 2000));
      expect(await listRecords('ls-loop')).toBe(first.answered + answered);

      // Its calls were not spent by its listing: its one call a minute is still there.
      const call = await looping.callTool({ name: 'whoami', arguments: {} });
      expect(call.isError, JSON.stringify(call.structuredContent)).toBeFalsy();
    } finally {
      await looping.close();
    }
  }, 60_000);

  it("bounds the tenant's listings whatever the number of its agents", async () => {
    // ls-loop's own agent spent its share above; two more agents of the tenant spend theirs and the
    // tenant's (60 a minute), and the third is refused by the tenant's layer before its own share.
    const [second, third] = await Promise.all(
      ['second', 'third'].map(async (name) =>
        bearerClient(stack.mcpUrl, await anotherAgentToken(stack, 'ls-loop', `ls-loop ${name} agent`)),
      ),
    );
    try {
      const before = await listRecords('ls-loop');
      const fromSecond = await listUntilRefused(second!, 200);
      expect(fromSecond.refusal?.code).toBe('rate_limit_exceeded');
      const fromThird = await listUntilRefused(third!, 200);
      expect(fromThird.refusal).toMatchObject({
        code: 'rate_limit_exceeded',
        details: { layer: 'tenant_list', limit: 60, remaining: 0 },
      });
      expect(fromThird.answered).toBeLessThan(30);
      expect(await listRecords('ls-loop')).toBe(before + fromSecond.answered + fromThird.answered);
    } finally {
      await Promise.all([second?.close(), third?.close()]);
    }
  }, 60_000);
});

describe('a normal client start', () => {
  /** What the test asks of a client of either SDK: the same two requests. */
  interface Starting {
    listTools(): Promise<{ tools: { name: string }[]; _meta?: Record<string, unknown> }>;
    callTool(params: {
      name: string;
      arguments: Record<string, unknown>;
    }): Promise<{ isError?: boolean; _meta?: Record<string, unknown> }>;
    close(): Promise<void>;
  }

  const v1Client = (token: string) => v1BearerClient(stack.mcpUrl, token);

  it.each([
    ['SDK v2, 2026-07-28', 'ls-modern'],
    ['SDK v2, 2025-11-25', 'ls-legacy'],
    ['SDK v1', 'ls-v1'],
  ])(
    '%s: initialize, tools/list and a call, under one call a minute',
    async (_era, tenant) => {
      const token = await stack.agentToken(tenant);
      const client = (
        tenant === 'ls-v1'
          ? await v1Client(token)
          : await bearerClient(stack.mcpUrl, token, tenant === 'ls-legacy' ? 'legacy' : 'modern')
      ) as Starting;
      try {
        const listed = await client.listTools();
        expect(listed.tools.map((t) => t.name)).toContain('whoami');
        expect(listed._meta?.[BUDGET_META_KEY]).toMatchObject({
          tenant_list: { limit: 60, remaining: 59 },
          agent_list: { limit: 30, remaining: 29 },
        });
        const called = await client.callTool({ name: 'whoami', arguments: {} });
        expect(called.isError).toBeFalsy();
        expect(called._meta?.[BUDGET_META_KEY]).toMatchObject({ agent: { limit: 1, remaining: 0 } });
        expect(await listRecords(tenant)).toBe(1);
      } finally {
        await client.close();
      }
    },
    60_000,
  );
});

describe('an agent looping past its call budget', () => {
  it('leaves one record of its refusal per wait, however often it asks within it', async () => {
    const looping = await bearerClient(stack.mcpUrl, await stack.agentToken('ls-calls'));
    const asked = { call: 0, relayed: 0, unknown: 0 };
    try {
      // One call a minute: the first is admitted, then each is refused with a wait of about a
      // minute, longer than this loop; so is a relayed request, and a call of no such tool.
      const first = await looping.callTool({ name: 'whoami', arguments: {} });
      expect(first.isError).toBeFalsy();
      for (let i = 0; i < 20; i++) {
        const refused = await looping.callTool({ name: 'whoami', arguments: {} });
        expect((refused.structuredContent as { error?: RateError }).error?.code).toBe('rate_limit_exceeded');
        asked.call += 1;
        const relayed = await looping.listResources().catch((error: unknown) => error);
        expect((relayed as { data?: RateError }).data?.code).toBe('rate_limit_exceeded');
        asked.relayed += 1;
        const unknown = await looping.callTool({ name: 'no_such_tool', arguments: {} });
        expect((unknown.structuredContent as { error?: RateError }).error?.code).toBe('rate_limit_exceeded');
        asked.unknown += 1;
      }
      expect(asked).toEqual({ call: 20, relayed: 20, unknown: 20 });
      // The admitted call and the first refusal; the 59 refusals asked within its wait leave none.
      expect(await callRecords('ls-calls')).toEqual({ ok: 1, rate_limit_exceeded: 1 });
      // And one log line: the first refusal's; the others are within its wait of about a minute.
      expect(linesOf('ls-calls')).toEqual([
        expect.not.objectContaining({ unlogged_refusals: expect.anything() }),
      ]);
    } finally {
      await looping.close();
    }
  }, 60_000);
});

describe("a looping caller's refusals in the router's log", () => {
  it('are logged once per wait, each line after the first with how many were left out', async () => {
    const looping = await bearerClient(stack.mcpUrl, await stack.agentToken('ls-logs'));
    try {
      const spent = await listUntilRefused(looping, 200);
      expect(spent.refusal?.code).toBe('rate_limit_exceeded');
      // Five seconds of listing as fast as it can: the agent's share gives one back every 2 s, so
      // each wait its refusals are given is at most 2 s, and a few pass.
      let refused = 1;
      let answered = 0;
      const started = performance.now();
      while (performance.now() - started < 5_000) {
        const one = await listUntilRefused(looping, 1);
        answered += one.answered;
        refused += one.refusal ? 1 : 0;
      }
      const lines = linesOf('ls-logs');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(answered).toBeGreaterThan(0);
      // A line comes no sooner than the wait the one before it was given. (Not "no more lines than
      // listings admitted": the router's clock can pass a wait a hair before Redis's window frees a
      // listing, and a loaded machine hits that border.)
      for (const [at, line] of lines.slice(1).entries()) {
        const before = lines[at]!;
        expect(before.retry_after_ms).toBeGreaterThan(0);
        expect(line.time! - before.time!).toBeGreaterThanOrEqual(before.retry_after_ms! - 1);
      }
      expect(lines[0]).not.toHaveProperty('unlogged_refusals');
      const left = lines.slice(1).map((line) => line.unlogged_refusals ?? 0);
      // Refusals within a wait are counted in the next line. Not in every one: a wait can be a few
      // ms (a listing about to be given back), the loop's next request already past it and refused
      // as the border above allows, its line with nothing left out (seen on a loaded CI machine).
      expect(left.some((n) => n > 0)).toBe(true);
      // Every refusal is a line or counted in the next one, but those after the last line.
      const accounted = lines.length + left.reduce((a, b) => a + b, 0);
      expect(accounted).toBeLessThanOrEqual(refused);
      expect(refused).toBeGreaterThan(10 * lines.length);
    } finally {
      await looping.close();
    }
  }, 60_000);
});

describe('bulkhead quota', () => {
  interface Row {
    layer: string;
    limit: number;
    used: number;
    subject?: string;
  }

  it("shows the listing budgets' live use, apart from the call budgets", async () => {
    const first = await bearerClient(stack.mcpUrl, await stack.agentToken('ls-quota'));
    const second = await bearerClient(
      stack.mcpUrl,
      await anotherAgentToken(stack, 'ls-quota', 'ls-quota second agent'),
    );
    try {
      // 20 and 8: their keys, which list the agents, live 40 s and 16 s (until full again).
      for (let i = 0; i < 20; i++) await first.listTools();
      for (let i = 0; i < 8; i++) await second.listTools();
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
    const listed = performance.now();
    const cli = (...args: string[]) =>
      runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, ['quota', 'ls-quota', ...args]);
    const json = await cli('--json');
    expect(json.code, json.stderr).toBe(0);
    // The CLI takes seconds to start: meanwhile the tenant's layer gives one listing back a second,
    // an agent's one every 2 s (30 a minute), so each used count is the listings made less those.
    const elapsed = performance.now() - listed;
    const report = JSON.parse(json.stdout) as { layers: Row[]; listing: Row[] };
    const within = (row: Row | undefined, made: number, refillMs: number) => {
      expect(row?.used).toBeLessThanOrEqual(made);
      expect(row?.used).toBeGreaterThanOrEqual(made - Math.ceil(elapsed / refillMs));
    };
    const tenant = report.listing.filter((r) => r.layer === 'tenant_list');
    expect(tenant.map((r) => r.limit)).toEqual([60]);
    within(tenant[0], 28, 1000);
    const agents = report.listing.filter((r) => r.layer === 'agent_list').sort((a, b) => b.used - a.used);
    expect(agents.map((r) => r.limit)).toEqual([30, 30]);
    expect(agents.every((r) => typeof r.subject === 'string' && r.subject !== '')).toBe(true);
    within(agents[0], 20, 2000);
    within(agents[1], 8, 2000);
    // The call layers stay calls only, none of them spent by the listings.
    expect(report.layers.filter((r) => r.layer.endsWith('_list'))).toEqual([]);
    expect(report.layers.find((r) => r.layer === 'tenant_day')).toMatchObject({ limit: 100, used: 0 });

    const table = await cli();
    expect(table.code, table.stderr).toBe(0);
    const [calls = '', listings = ''] = table.stdout.split('# listing budgets');
    expect(calls).toMatch(/^tenant_day\s+100\s+day\s+0\s+100\s/m);
    expect(calls).not.toContain('_list');
    expect(listings).toMatch(/^tenant_list\s+60\s+minute\s+\d+\s/m);
    const agentLine = listings
      .split('\n')
      .find((line) => line.startsWith(`agent_list ${agents[0]?.subject} `));
    expect(agentLine).toMatch(/\s30\s+minute\s+\d+\s/);
  }, 60_000);
});
