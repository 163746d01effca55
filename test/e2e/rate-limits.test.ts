// Rate limits through the whole stack with real clients (docs/rate-limits.md): 1,000 concurrent
// calls for one tenant with a budget of 100, spread over the stack's router and a second router
// process on the same Redis, admit exactly 100; every refusal is a structured `rate_limit` tool
// result with the layer, the limit and `retry_after_ms`, and a refused call retried after its
// `retry_after_ms` succeeds; SDK v2 in both eras and SDK v1 receive that error and
// the budget `_meta` of a successful call; quota_status reports each layer's live usage; a looping
// agent spends its own share and another agent of the same tenant keeps being served; refused calls
// (an unknown tool, arguments the schema refuses) are charged to that share, not the tenant's.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { anotherAgentToken, bearerClient, v1BearerClient } from '../support/mcp-client.ts';
import { scrape, total } from '../support/prometheus-text.ts';
import { startRouterProcess, type RouterProcess } from '../support/router-process.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let second: RouterProcess;

interface CallResult {
  isError?: boolean;
  structuredContent?: unknown;
  _meta?: Record<string, unknown>;
}

interface RateError {
  error_class: string;
  code: string;
  retry_after_ms?: number;
  details?: { layer: string; limit: number; remaining: number; reset_at: string };
}

function errorOf(result: CallResult): RateError | undefined {
  return (result.structuredContent as { error?: RateError } | undefined)?.error;
}

// 1,000 calls at once queue in the routers' event loops on this 2-core machine: a Redis step can
// wait longer than the default 1 s deadline there and be answered `state_unavailable` (what
// test/e2e/redis-unavailable.test.ts is about). This test is about the budgets' arithmetic.
const STATE_DEADLINE_MS = 30_000;

beforeAll(async () => {
  stack = await startTestStack('ratelimits', {
    router: { metricsPort: 0, stateDeadlineMs: STATE_DEADLINE_MS },
  });
  second = await startRouterProcess(stack, { BULKHEAD_STATE_DEADLINE_MS: String(STATE_DEADLINE_MS) });
  // The day budget equals the minute budget, so nothing refills while the calls run: "exactly 100"
  // holds however long the machine takes. The agent's share is not the layer under test here.
  await stack.onboard('rl-exact', {
    quotas: { callsPerMinute: 100, callsPerDay: 100, agentCallsPerMinute: 1000 },
  });
  // The day's budget (100, one back every 14 min) is what the loop test reads: the minute's gives
  // one back every 600 ms, which a loaded machine can take between two calls.
  await stack.onboard('rl-agents', {
    quotas: { callsPerMinute: 100, callsPerDay: 100, agentCallsPerMinute: 5 },
  });
  // The same for refused calls: the agent's share of 5, the day's 100 for what the tenant paid.
  await stack.onboard('rl-refused', {
    quotas: { callsPerMinute: 100, callsPerDay: 100, agentCallsPerMinute: 5 },
  });
  // One whoami per second for the tenant (60 per minute): a refusal's retry_after_ms is at most 1 s.
  await stack.onboard('rl-retry', {
    quotas: { callsPerMinute: 1000, callsPerDay: 100_000, agentCallsPerMinute: 1000, tools: { whoami: 60 } },
  });
  await stack.onboard('rl-eras', {
    quotas: { callsPerMinute: 1000, callsPerDay: 100_000, agentCallsPerMinute: 1000, tools: { whoami: 1 } },
  });
}, 120_000);

afterAll(async () => {
  await second?.close();
  await stack?.close();
});

describe('rate limits across two router processes', () => {
  it('admits exactly 100 of 1,000 concurrent calls and refuses the rest with rate_limit and retry_after_ms', async () => {
    const token = await stack.agentToken('rl-exact');
    const clients: Client[] = [];
    for (const url of [stack.mcpUrl, second.mcpUrl, stack.mcpUrl, second.mcpUrl]) {
      clients.push(await bearerClient(url, token));
    }
    try {
      const results = (await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          (clients[i % clients.length] as Client).callTool({ name: 'whoami', arguments: {} }),
        ),
      )) as CallResult[];
      const admitted = results.filter((r) => !r.isError);
      const refused = results.filter((r) => r.isError).map(errorOf);
      expect(admitted).toHaveLength(100);
      expect(refused).toHaveLength(900);
      for (const error of refused) {
        expect(error).toMatchObject({ error_class: 'rate_limit', code: 'rate_limit_exceeded' });
        expect(error?.retry_after_ms).toBeGreaterThan(0);
        expect(['tenant_minute', 'tenant_day']).toContain(error?.details?.layer);
        expect(error?.details).toMatchObject({ limit: 100, remaining: 0 });
        expect(Date.parse(error?.details?.reset_at ?? '')).toBeGreaterThan(Date.now());
      }
      for (const result of admitted) expect(result._meta?.[BUDGET_META_KEY]).toBeDefined();
      // The stack's router (clients 0 and 2) counts the refusals it answered, by layer.
      const refusedHere = results.filter((r, i) => r.isError && (i % 4 === 0 || i % 4 === 2)).length;
      expect(refusedHere).toBeGreaterThan(0);
      const samples = await scrape(stack.router.metricsUrl!);
      expect(total(samples, 'bulkhead_rate_limit_refusals_total', {})).toBe(refusedHere);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 180_000);

  it('succeeds when a refused call is retried after its retry_after_ms', async () => {
    // The refusals above are the day's (the day's budget is the minute's there, for exactness), a
    // wait of minutes. Here the tool's own limit refuses: 60 per minute, one back every second.
    const token = await stack.agentToken('rl-retry');
    const [one, other] = [await bearerClient(stack.mcpUrl, token), await bearerClient(second.mcpUrl, token)];
    try {
      let refused: RateError | undefined;
      for (let i = 0; i < 200 && !refused; i++) {
        const result = (await (i % 2 ? one : other).callTool({
          name: 'whoami',
          arguments: {},
        })) as CallResult;
        if (result.isError) refused = errorOf(result);
      }
      expect(refused).toMatchObject({ error_class: 'rate_limit', details: { layer: 'tool', limit: 60 } });
      const wait = refused?.retry_after_ms ?? 0;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1000);
      await new Promise((resolve) => setTimeout(resolve, wait));
      const retried = (await other.callTool({ name: 'whoami', arguments: {} })) as CallResult;
      expect(retried.isError, JSON.stringify(retried.structuredContent)).toBeFalsy();
      expect(retried._meta?.[BUDGET_META_KEY]).toHaveProperty('tool');
    } finally {
      await Promise.all([one.close(), other.close()]);
    }
  }, 60_000);
});

/** A token of a second OAuth client of `tenant`: another agent, by its verified client id. */
const secondAgentToken = (tenant: string): Promise<string> =>
  anotherAgentToken(stack, tenant, `${tenant} second agent`);

/** The structured error of a refused tools/call: a tool error's, or a JSON-RPC error's data. */
function refusalOf(answer: unknown): RateError | undefined {
  if (answer instanceof Error) return (answer as { data?: RateError }).data;
  return errorOf(answer as CallResult);
}

describe('loop protection', () => {
  it('limits a looping agent to its share; another agent of the same tenant keeps being served', async () => {
    const looping = await bearerClient(stack.mcpUrl, await stack.agentToken('rl-agents'));
    const steady = await bearerClient(second.mcpUrl, await secondAgentToken('rl-agents'));
    try {
      const loop: CallResult[] = [];
      for (let i = 0; i < 20; i++) loop.push(await looping.callTool({ name: 'whoami', arguments: {} }));
      expect(loop.filter((r) => !r.isError)).toHaveLength(5);
      expect(errorOf(loop.at(-1) ?? {})).toMatchObject({
        error_class: 'rate_limit',
        details: { layer: 'agent', limit: 5 },
      });
      for (let i = 0; i < 3; i++) {
        const served = (await steady.callTool({ name: 'whoami', arguments: {} })) as CallResult;
        expect(served.isError).toBeFalsy();
        const budget = served._meta?.[BUDGET_META_KEY] as Record<string, { remaining: number }>;
        // The tenant paid for the looper's 5 admitted calls and these, not for its refusals.
        expect(budget.tenant_day?.remaining).toBe(100 - 5 - (i + 1));
      }
    } finally {
      await Promise.all([looping.close(), steady.close()]);
    }
  }, 60_000);

  it("charges a looping agent's refused calls to its own share, not to the tenant's budget", async () => {
    const looping = await bearerClient(stack.mcpUrl, await stack.agentToken('rl-refused'));
    const steady = await bearerClient(second.mcpUrl, await secondAgentToken('rl-refused'));
    const call = (name: string, args: Record<string, unknown>) =>
      looping.callTool({ name, arguments: args }).catch((error: unknown) => error);
    try {
      // A tool that does not exist, and arguments the tool's schema refuses: nothing runs.
      const refused = [];
      for (let i = 0; i < 3; i++) refused.push(refusalOf(await call('no_such_tool', {})));
      for (let i = 0; i < 2; i++) refused.push(refusalOf(await call('whoami', { unexpected: i })));
      expect(refused.map((e) => e?.code)).toEqual([
        'unknown_tool',
        'unknown_tool',
        'unknown_tool',
        'invalid_arguments',
        'invalid_arguments',
      ]);
      // Its share (5) is spent: the next call, refused or not, waits for it, as a tool error.
      for (const [name, args] of [
        ['no_such_tool', {}],
        ['whoami', { unexpected: 0 }],
        ['whoami', {}],
      ] as const) {
        const answer = await call(name, args);
        expect(answer).not.toBeInstanceOf(Error);
        expect(errorOf(answer as CallResult)).toMatchObject({
          error_class: 'rate_limit',
          code: 'rate_limit_exceeded',
          details: { layer: 'agent', limit: 5, remaining: 0 },
        });
        expect(errorOf(answer as CallResult)?.retry_after_ms).toBeGreaterThan(0);
      }
      // The tenant paid only for the other agent's call.
      const served = (await steady.callTool({ name: 'whoami', arguments: {} })) as CallResult;
      expect(served.isError).toBeFalsy();
      const budget = served._meta?.[BUDGET_META_KEY] as Record<string, { remaining: number }>;
      expect(budget.tenant_day?.remaining).toBe(99);
    } finally {
      await Promise.all([looping.close(), steady.close()]);
    }
  }, 60_000);
});

describe('every client era sees the structured error and the budget', () => {
  const v1Client = (token: string) => v1BearerClient(second.mcpUrl, token);

  it('SDK v2 (2026-07-28 and 2025-11-25) and SDK v1', async () => {
    const token = await stack.agentToken('rl-eras');
    type Call = (name: string) => Promise<CallResult>;
    const v2 =
      (c: Client): Call =>
      (name) =>
        c.callTool({ name, arguments: {} });
    const modern = await bearerClient(stack.mcpUrl, token);
    const legacy = await bearerClient(second.mcpUrl, token, 'legacy');
    const v1 = await v1Client(token);
    const clients: [string, Call][] = [
      ['v2 modern', v2(modern)],
      ['v2 legacy', v2(legacy)],
      ['v1', (name) => v1.callTool({ name, arguments: {} })],
    ];
    try {
      let whoamiAdmitted = 0;
      for (const [era, call] of clients) {
        const status = await call('quota_status');
        expect(status.isError, era).toBeFalsy();
        const budget = status._meta?.[BUDGET_META_KEY] as Record<
          string,
          { limit: number; remaining: number }
        >;
        expect(budget.tenant_minute, era).toMatchObject({ limit: 1000 });
        expect(budget.agent?.remaining, era).toBeLessThan(1000);
        // quota_status reports the tool layer's live usage: whoami's one call per minute.
        const layers = (
          status.structuredContent as { rate_limits: { layer: string; tool?: string; used: number }[] }
        ).rate_limits;
        expect(
          layers.map((l) => l.layer),
          era,
        ).toEqual(expect.arrayContaining(['tenant_minute', 'tenant_day', 'agent', 'tool']));
        expect(layers.find((l) => l.tool === 'whoami')?.used, era).toBe(whoamiAdmitted);
        // The tool layer admits one whoami per minute for the tenant: the first era's first call,
        // then refusals, in every era.
        for (let i = 0; i < 2; i++) {
          const result = await call('whoami');
          if (!result.isError) {
            whoamiAdmitted += 1;
            continue;
          }
          expect(errorOf(result), era).toMatchObject({
            error_class: 'rate_limit',
            code: 'rate_limit_exceeded',
            details: { layer: 'tool', limit: 1, remaining: 0 },
          });
          expect(errorOf(result)?.retry_after_ms, era).toBeGreaterThan(0);
        }
      }
      expect(whoamiAdmitted).toBe(1);
    } finally {
      await Promise.all([modern.close(), legacy.close(), v1.close()]);
    }
  }, 60_000);
});
