// What operators and tool authors give the rate limits, checked before it reaches Redis: the quota
// flags of `bulkhead update` (tenants/cli/quota-commands.ts), a tool definition's upstreams
// (kernel/tools/tool-definition.ts; an operator module naming bad ones stops the router at startup),
// and the slots of one decision (kernel/ratelimit/layer-plans.ts): upstreams, a refused request's,
// a tools/list's.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MIN_AGENT_LISTS_PER_MINUTE,
  MIN_TENANT_LISTS_PER_MINUTE,
} from '../../kernel/ratelimit/layer-plans.ts';
import { layerPlans } from '../../kernel/ratelimit/rate-limiter.ts';
import { upstreamsProblem } from '../../kernel/tools/tool-definition.ts';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { DEFAULT_DOCS_DIR } from '../../router/router.ts';
import { builtInSharedTools, loadSharedTools } from '../../router/tools/shared-registry.ts';
import { quotaChanges } from '../../tenants/cli/quota-commands.ts';

const usageError = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('the quota flags of bulkhead update', () => {
  it('become quota overrides; TOOL=none drops a tool override', () => {
    expect(
      quotaChanges({
        'calls-per-minute': '120',
        'user-calls-per-minute': '7',
        'tool-limit': ['records_create=10', 'docs_search=none'],
      }),
    ).toEqual({
      callsPerMinute: 120,
      userCallsPerMinute: 7,
      tools: { records_create: 10, docs_search: null },
    });
    expect(quotaChanges({})).toBeUndefined();
  });

  it('refuses what is not a whole number of calls, or not TOOL=N, as a usage error', () => {
    for (const values of [
      { 'calls-per-day': '0' },
      { 'calls-per-minute': '1.5' },
      { 'agent-calls-per-minute': '-3' },
      { 'calls-per-minute': 'lots' },
      { 'tool-limit': ['whoami'] },
      { 'tool-limit': ['whoami=0'] },
      { 'tool-limit': ['=3'] },
    ]) {
      const error = usageError(() => quotaChanges(values));
      expect(isBulkheadError(error, 'usage'), JSON.stringify(values)).toBe(true);
    }
  });
});

describe("a tool definition's upstreams", () => {
  it('are at most three distinct valid names', () => {
    expect(upstreamsProblem({ name: 't', upstreams: ['maps', 'search.v2', 'billing-api'] })).toBeUndefined();
    expect(upstreamsProblem({ name: 't' })).toBeUndefined();
    expect(upstreamsProblem({ name: 't', upstreams: ['a', 'b', 'c', 'd'] })).toContain('at most 3');
    expect(upstreamsProblem({ name: 't', upstreams: ['Maps API'] })).toContain('invalid upstream');
    expect(upstreamsProblem({ name: 't', upstreams: ['maps', 'maps'] })).toContain('twice');
  });

  it('stop the router at startup when an operator module names bad ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-upstreams-'));
    try {
      const module = join(dir, 'too-many.mjs');
      await writeFile(
        module,
        `export default { definition: { name: 'fan_out', kind: 'shared', effect: 'read', writes: false, semantic: [],
        upstreams: ['a', 'b', 'c', 'd'], inputSchema: { safeParse: () => ({ success: true }) } },
        handler: async () => ({ content: [] }) };`,
      );
      const builtIns = builtInSharedTools({ docsDir: DEFAULT_DOCS_DIR });
      await expect(loadSharedTools({ builtIns, modulePaths: [module] })).rejects.toThrow(/at most 3/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fill the decision's upstream slots in order; the unused ones do not apply", () => {
    const plans = layerPlans('p', {
      principal: { tenant: 'acme', agent: 'a', user: null },
      tenant: undefined,
      tool: { name: 'geo', upstreams: ['maps', 'search'] },
    });
    expect(plans.map((p) => p.layer)).toEqual([
      'tenant_minute',
      'tenant_day',
      'agent',
      'user',
      'tool',
      'upstream',
      'upstream',
      'upstream',
    ]);
    expect(plans.slice(5).map((p) => [p.key, p.upstream])).toEqual([
      ['p:rate-upstream:maps', 'maps'],
      ['p:rate-upstream:search', 'search'],
      ['p:rate-upstream:', undefined],
    ]);
  });

  it("charge a refused request to the caller's shares only (agent, user), never a tool's or upstream's", () => {
    const plans = layerPlans('p', {
      principal: { tenant: 'acme', agent: 'a', user: 'u' },
      tenant: {
        createdAt: '2026-12-01T00:00:00.000Z',
        quotas: {
          callsPerMinute: 60,
          callsPerDay: 600,
          agentCallsPerMinute: 5,
          userCallsPerMinute: 7,
          tools: { geo: 2 },
        },
      },
      tool: { name: 'geo', callsPerMinute: 3, upstreams: ['maps'] },
      refused: true,
    });
    const applying = plans.filter((p) => p.limit > 0).map((p) => [p.layer, p.key, p.limit]);
    expect(applying).toEqual([
      ['agent', 'p:rate:acme:1796083200000:agent:a', 5],
      ['user', 'p:rate:acme:1796083200000:user:u', 7],
    ]);
    expect(plans.every((p) => p.upstream === undefined)).toBe(true);
  });

  it('charge a tools/list to the listing layers alone, under keys of their own, at least their floors', () => {
    const tenant = (quotas: { callsPerMinute: number; agentCallsPerMinute?: number }) => ({
      createdAt: '2026-12-01T00:00:00.000Z',
      quotas: { callsPerDay: 600, ...quotas },
    });
    const listing = (quotas: { callsPerMinute: number; agentCallsPerMinute?: number }) =>
      layerPlans('p', {
        principal: { tenant: 'acme', agent: 'a', user: 'u' },
        tenant: tenant(quotas),
        tool: { name: 'geo', callsPerMinute: 3, upstreams: ['maps'] },
        listing: true,
      })
        .filter((p) => p.limit > 0)
        .map((p) => [p.layer, p.key, p.limit]);
    // The call quotas' numbers, as budgets of their own: no call layer, no user, tool or upstream.
    expect(listing({ callsPerMinute: 600, agentCallsPerMinute: 200 })).toEqual([
      ['tenant_list', 'p:rate:acme:1796083200000:list:tenant', 600],
      ['agent_list', 'p:rate:acme:1796083200000:list:agent:a', 200],
    ]);
    // A tenant whose calls are metered tightly still lets its clients start.
    expect(listing({ callsPerMinute: 2, agentCallsPerMinute: 1 }).map(([, , limit]) => limit)).toEqual([
      MIN_TENANT_LISTS_PER_MINUTE,
      MIN_AGENT_LISTS_PER_MINUTE,
    ]);
  });
});
