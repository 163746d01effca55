// The operator's side of rate limits, through the CLI and real clients on two router processes: an
// upstream budget (`bulkhead upstream`) shared by two tenants and enforced across them and across
// routers; quota overrides with `bulkhead update` (tenant, agent, per tool) and `bulkhead apply`,
// with clear errors for bad ones; `bulkhead quota <tenant>` showing each layer's live usage.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { runCli } from '../support/cli.ts';
import { UPSTREAM, UPSTREAM_TOOL } from '../support/fixtures/upstream-tool.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { startRouterProcess, type RouterProcess } from '../support/router-process.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const FIXTURE = fileURLToPath(new URL('../support/fixtures/upstream-tool.ts', import.meta.url));

let stack: TestStack;
let second: RouterProcess;
const cli = (...args: string[]) => runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, args);

interface CallResult {
  isError?: boolean;
  structuredContent?: unknown;
  _meta?: Record<string, unknown>;
}

function errorOf(result: CallResult): { code: string; details?: Record<string, unknown> } | undefined {
  return (result.structuredContent as { error?: { code: string } } | undefined)?.error;
}

beforeAll(async () => {
  stack = await startTestStack('ratelimitops', { router: { sharedToolModules: [FIXTURE] } });
  second = await startRouterProcess(stack, { BULKHEAD_SHARED_TOOL_MODULES: FIXTURE });
  await stack.onboard('rlo-one');
  await stack.onboard('rlo-two');
  await stack.onboard('rlo-ops');
}, 180_000);

afterAll(async () => {
  await second?.close();
  await stack?.close();
});

describe('an upstream budget', () => {
  it('is shared by two tenants and enforced across them and across router processes', async () => {
    // 5 per minute: one refills every 12 s, longer than these calls take, so "exactly 5" holds.
    const set = await cli('upstream', UPSTREAM, '--calls-per-minute', '5');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`${UPSTREAM}`);
    const clients: Client[] = [];
    for (const tenant of ['rlo-one', 'rlo-two']) {
      const token = await stack.agentToken(tenant);
      clients.push(await bearerClient(stack.mcpUrl, token), await bearerClient(second.mcpUrl, token));
    }
    try {
      const results = (await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          (clients[i % 4] as Client).callTool({ name: UPSTREAM_TOOL, arguments: { city: 'Paris' } }),
        ),
      )) as CallResult[];
      const admitted = results.filter((r) => !r.isError);
      expect(admitted).toHaveLength(5);
      for (const result of admitted)
        expect(result._meta?.[BUDGET_META_KEY]).toHaveProperty([`upstream:${UPSTREAM}`]);
      for (const refused of results.filter((r) => r.isError))
        expect(errorOf(refused)).toMatchObject({
          code: 'rate_limit_exceeded',
          details: { layer: 'upstream', upstream: UPSTREAM, limit: 5, remaining: 0 },
        });
      // The other tenant is refused too once the budget is spent: it is the downstream's, not a tenant's.
      for (const client of clients) {
        const late = (await client.callTool({
          name: UPSTREAM_TOOL,
          arguments: { city: 'Berlin' },
        })) as CallResult;
        expect(errorOf(late)?.details).toMatchObject({ layer: 'upstream' });
      }
      // quota_status reports the upstream of a tool the caller sees (quota_status is charged, not it).
      const status = (await clients[1]!.callTool({ name: 'quota_status', arguments: {} })) as CallResult;
      const limits = (status.structuredContent as { rate_limits: Record<string, unknown>[] }).rate_limits;
      expect(limits).toContainEqual(
        expect.objectContaining({ layer: 'upstream', upstream: UPSTREAM, limit: 5, period_ms: 60_000 }),
      );
      const report = await cli('quota', 'rlo-two', '--json');
      expect(report.code, report.stderr).toBe(0);
      const layers = (JSON.parse(report.stdout) as { layers: Record<string, unknown>[] }).layers;
      // The CLI takes seconds to start on a busy machine, and one call comes back every 12 s.
      const row = layers.find((l) => l.layer === 'upstream' && l.upstream === UPSTREAM);
      expect(row).toMatchObject({ limit: 5, period_ms: 60_000 });
      expect(row?.used).toBeGreaterThan(0);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await cli('upstream', UPSTREAM, '--remove');
    }
  }, 120_000);
});

describe('quota overrides and bulkhead quota', () => {
  it('update sets per-tenant, per-agent and per-tool quotas that the routers enforce; quota shows live usage', async () => {
    const update = await cli(
      'update',
      'rlo-ops',
      '--calls-per-minute',
      '50',
      '--calls-per-day',
      '50',
      '--agent-calls-per-minute',
      '4',
      '--tool-limit',
      'whoami=2',
    );
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('quotas');
    expect((await stack.registry.require('rlo-ops')).quotas).toEqual({
      callsPerMinute: 50,
      callsPerDay: 50,
      agentCallsPerMinute: 4,
      userCallsPerMinute: 1_000_000,
      tools: { whoami: 2 },
    });
    const client = await bearerClient(second.mcpUrl, await stack.agentToken('rlo-ops'));
    try {
      const whoami: CallResult[] = [];
      for (let i = 0; i < 4; i++) whoami.push(await client.callTool({ name: 'whoami', arguments: {} }));
      expect(whoami.map((r) => r.isError === true)).toEqual([false, false, true, true]);
      expect(errorOf(whoami[2]!)?.details).toMatchObject({ layer: 'tool', limit: 2 });
      expect((await client.callTool({ name: 'quota_status', arguments: {} })).isError).toBeFalsy();
    } finally {
      await client.close();
    }
    const json = await cli('quota', 'rlo-ops', '--json');
    expect(json.code, json.stderr).toBe(0);
    const { layers } = JSON.parse(json.stdout) as { layers: Record<string, unknown>[] };
    // Three admitted calls (two whoami, one quota_status); the refusals charged nothing. The day's
    // budget refills one call per 29 min: exact. The minute's and the agent's refill one call per
    // 1.2 s and 15 s, and the CLI takes seconds to start: some of their three may be back already
    // (the agent's key, which lists the agent, lives until its share is full again: 45 s).
    expect(layers).toContainEqual(expect.objectContaining({ layer: 'tenant_day', limit: 50, used: 3 }));
    const perMinute = layers.filter((l) => l.layer === 'tenant_minute' || l.layer === 'agent');
    expect(perMinute.map((l) => [l.layer, l.limit])).toEqual([
      ['tenant_minute', 50],
      ['agent', 4],
    ]);
    for (const layer of perMinute) expect(layer.used).toBeLessThanOrEqual(3);
    expect(perMinute[1]).toHaveProperty('subject');
    expect(layers).toContainEqual(
      expect.objectContaining({ layer: 'tool', tool: 'whoami', limit: 2, used: 2, remaining: 0 }),
    );
    const table = await cli('quota', 'rlo-ops');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^tool whoami\s+2\s+minute\s+2\s+0\s/m);
    expect(table.stdout).toMatch(/^tenant_day\s+50\s+day\s+3\s+47\s/m);
  }, 60_000);

  it('refuses bad overrides with a clear error and changes nothing', async () => {
    const before = await stack.registry.require('rlo-ops');
    const cases: [string[], string][] = [
      [['--tool-limit', 'shell_exec=3'], 'unknown tool "shell_exec"'],
      [['--calls-per-minute', '0'], '--calls-per-minute takes a whole number'],
      [['--tool-limit', 'whoami'], '--tool-limit takes TOOL=N or TOOL=none'],
      [['--agent-calls-per-minute', '2000000'], 'quotas.agentCallsPerMinute: Too big'],
    ];
    for (const [flags, message] of cases) {
      const result = await cli('update', 'rlo-ops', ...flags);
      expect(result.code, flags.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect((await stack.registry.require('rlo-ops')).generation).toBe(before.generation);
    const drop = await cli('update', 'rlo-ops', '--tool-limit', 'whoami=none');
    expect(drop.code, drop.stderr).toBe(0);
    expect((await stack.registry.require('rlo-ops')).quotas.tools).toBeUndefined();
  }, 60_000);

  it('apply carries quotas, per-tool ones included, and refuses bad ones', async () => {
    const exported = await cli('export', 'rlo-ops');
    const file = parse(exported.stdout) as { tenants: { quotas: Record<string, unknown> }[] };
    const tenant = file.tenants[0]!;
    const write = async (quotas: Record<string, unknown>): Promise<string> => {
      const path = join(stack.ns.runDir, 'quotas.yaml');
      await writeFile(path, stringify({ ...file, tenants: [{ ...tenant, quotas }] }));
      return path;
    };
    const good = await cli(
      'apply',
      '-f',
      await write({ ...tenant.quotas, tools: { docs_search: 7 } }),
      '--yes',
    );
    expect(good.code, good.stderr).toBe(0);
    expect((await stack.registry.require('rlo-ops')).quotas.tools).toEqual({ docs_search: 7 });
    const before = (await stack.registry.require('rlo-ops')).generation;
    const unknown = await cli(
      'apply',
      '-f',
      await write({ ...tenant.quotas, tools: { nosuch: 3 } }),
      '--yes',
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('quotas.tools.nosuch: unknown tool "nosuch"');
    const zero = await cli('apply', '-f', await write({ ...tenant.quotas, callsPerMinute: 0 }), '--yes');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('callsPerMinute');
    expect((await stack.registry.require('rlo-ops')).generation).toBe(before);
  }, 60_000);
});
