// A tenant's rate-limit budgets are its record's (kernel/redis/keys.ts, rateLimitKey: the tenant's
// id and its record's createdAt). The same tenant's usage is one across router instances, one
// started after the calls (as a restart would) included; a tenant offboarded and onboarded again
// under the same id starts with every per-tenant layer full (its minute and day, its agents', its
// users' and its tools'), not with what the earlier one spent, in a call's budget and in
// `bulkhead quota`'s report alike. Real Redis (the registry and the budgets), the router app as
// production wires it (twice, as two instances), a stock SDK client.
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { defaultTools, TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName, type Quotas } from '../../kernel/tenant/tenant-spec.ts';
import { TenantDirectory } from '../../router/tenancy/tenant-directory.ts';
import { quotaReport } from '../../tenants/control-plane/quota.ts';
import { agentClaims, keyHoldingIssuer, startIssuerRouter, type KeyHolder } from '../support/auth-harness.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

const TENANT = 'rated';
// Small budgets: each layer gives back one call per 10 s or more, so what the test reads of them
// does not move while it runs.
const QUOTAS: Quotas = {
  callsPerMinute: 6,
  callsPerDay: 1000,
  agentCallsPerMinute: 5,
  userCallsPerMinute: 5,
  tools: { whoami: 5 },
};
const logger = pino({ level: 'silent' });

let ns: TestNamespace;
let redis: Redis;
let issuer: KeyHolder;
let registry: TenantRegistry;
const routers: Awaited<ReturnType<typeof startIssuerRouter>>[] = [];
const clients: Client[] = [];

/** A router instance of its own (its own tenant directory, as another process has), on the shared Redis. */
async function startRouter(): Promise<{ mcpUrl: string; tenants: TenantDirectory }> {
  const tenants = new TenantDirectory({ source: registry });
  const router = await startIssuerRouter(issuer, {
    tenants,
    logger,
    prefix: ns.installation.registryPrefix,
    redis,
  });
  routers.push(router);
  return { mcpUrl: router.mcpUrl, tenants };
}

/** A client of alice (a user, viewer) through `mcpUrl`, its token signed now. */
async function alice(mcpUrl: string): Promise<Client> {
  const who = { issuer: issuer.issuer, audience: mcpUrl, agent: 'rated-agent', tenant: TENANT };
  const token = await issuer.sign(agentClaims(who, { sub: 'alice', roles: ['viewer'] }));
  const client = await bearerClient(mcpUrl, token);
  clients.push(client);
  return client;
}

/** Each layer's remaining budget after one whoami call, from the result's `_meta`. */
async function remainingAfterCall(client: Client): Promise<Record<string, number>> {
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  expect(result.isError).toBeFalsy();
  const budget = result._meta?.[BUDGET_META_KEY] as Record<string, { remaining: number }>;
  return Object.fromEntries(Object.entries(budget).map(([layer, state]) => [layer, state.remaining]));
}

function onboard(): Promise<unknown> {
  const spec = { id: TENANT, plan: planByName('small'), quotas: QUOTAS, isolation: 'runc' as const };
  return registry.create({ ...spec, tools: defaultTools() });
}

beforeAll(async () => {
  ns = await testNamespace('rateinc');
  redis = new Redis(ns.installation.redis);
  issuer = await keyHoldingIssuer();
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  await onboard();
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  for (const router of routers) await router.close();
  await issuer?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

describe("a tenant's rate-limit budgets", () => {
  it('are one across router instances, and start full for a tenant onboarded again under the id', async () => {
    const first = await alice((await startRouter()).mcpUrl);
    for (let i = 0; i < 2; i++) await remainingAfterCall(first);
    expect(await remainingAfterCall(first)).toEqual({
      tenant_minute: 3,
      tenant_day: 997,
      agent: 2,
      user: 2,
      tool: 2,
    });
    // Another instance, started after those calls: it continues the same tenant's usage.
    const second = await startRouter();
    expect(await remainingAfterCall(await alice(second.mcpUrl))).toEqual({
      tenant_minute: 2,
      tenant_day: 996,
      agent: 1,
      user: 1,
      tool: 1,
    });

    // Offboarded and onboarded again under the id (a later createdAt); the router's directory is
    // told, as the pin watcher tells it (router/tools/pin-watcher.ts).
    await registry.delete(TENANT, { actor: 'test' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await onboard();
    second.tenants.invalidate(TENANT);
    expect(await remainingAfterCall(await alice(second.mcpUrl))).toEqual({
      tenant_minute: 5,
      tenant_day: 999,
      agent: 4,
      user: 4,
      tool: 4,
    });
    // `bulkhead quota` reports that call alone, and of the agents and users only this tenant's.
    const report = await quotaReport({ registry }, { redis, prefix: ns.installation.registryPrefix }, TENANT);
    expect(report.layers.map((row) => [row.layer, row.subject ?? row.tool ?? '', row.used])).toEqual([
      ['tenant_minute', '', 1],
      ['tenant_day', '', 1],
      ['agent', 'rated-agent', 1],
      ['user', 'alice', 1],
      ['tool', 'whoami', 1],
    ]);
  });
});
