// tools/list_changed stays inside the tenant it concerns. Two tenants on one router, each with a
// stock 2026-07-28 client listening (subscriptions/listen), and the second with a 2025 session as
// well. One tenant's record changes in the registry (a pin, then a suspension) or its tool is
// withheld by the drift guard: that tenant's client is told; the other tenant's clients hear nothing,
// neither learning of the change (a side channel across the tenant boundary) nor re-listing for it.
// A client of a tenant since offboarded, still listening, hears nothing of the tenant onboarded
// again under its id.
// Nor does a client whose token has expired: its stream ends with the token (a client whose access
// ended went on hearing its former tenant's changes for as long as it kept the stream).
// Real Redis (the registry), the router app as production wires it (router/app.ts, real token
// verifier), the real pin watcher and drift guard. The test runs the watcher's passes itself, so
// each wait is bounded by events, not a sleep: the change reaching its own tenant's client, then
// one more pass of the watcher (onlyTheirOwn).
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { defaultTools, TenantRegistry, type TenantChanges } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { TenantDirectory } from '../../router/tenancy/tenant-directory.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { PinWatcher } from '../../router/tools/pin-watcher.ts';
import { MAX_LISTEN_STREAMS_PER_TENANT } from '../../router/mcp/listen-limit.ts';
import { agentClaims, keyHoldingIssuer, startIssuerRouter, type KeyHolder } from '../support/auth-harness.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { until } from '../support/until.ts';

const ALPHA = 'alpha';
const BRAVO = 'bravo';
/** A token about to expire: long enough to open its stream on a loaded machine. */
const SHORT_LIFETIME_SECONDS = 3;
/** What the router logged of tool list changes: each line names the tenants changed. */
const logged: { tenants?: string[] }[] = [];
const logger = pino(
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString()) as { msg?: string; tenants?: string[] };
      if (line.msg === 'tools/list_changed') logged.push(line);
      done();
    },
  }),
);

let ns: TestNamespace;
let redis: Redis;
let issuer: KeyHolder;
let registry: TenantRegistry;
let watcher: PinWatcher;
let router: Awaited<ReturnType<typeof startIssuerRouter>>;
const clients: Client[] = [];
/** How many tools/list_changed notifications each client received. */
const heard = { alpha: 0, bravo: 0, bravoLegacy: 0 };

/** A stock client of `tenant` listening; its token expires in `lifetimeSeconds`. Returns the `exp`. */
async function listening(
  tenant: string,
  era: 'modern' | 'legacy',
  count: () => void,
  lifetimeSeconds = 120,
): Promise<number> {
  const exp = Math.floor(Date.now() / 1000) + lifetimeSeconds;
  const who = { issuer: issuer.issuer, audience: router.mcpUrl, agent: `${tenant}-agent`, tenant };
  const token = await issuer.sign(agentClaims(who, { exp }));
  const client = await bearerClient(router.mcpUrl, token, era);
  clients.push(client);
  client.setNotificationHandler('notifications/tools/list_changed', count);
  // Resolves once the server acknowledged: the stream is open and registered.
  if (era === 'modern') await client.listen({ toolsListChanged: true });
  return exp;
}

async function change(tenant: string, changes: TenantChanges): Promise<void> {
  const { generation } = await registry.require(tenant);
  await registry.update(tenant, { expectedGeneration: generation, changes, author: { actor: 'test' } });
}

/** A change of a pin of `tenant`'s that makes its record differ (who may call records_get alone). */
async function changePin(tenant: string): Promise<void> {
  const { tools } = await registry.require(tenant);
  await change(tenant, {
    tools: tools.map((pin) => (pin.name === 'records_get' ? { ...pin, agentsAlone: !pin.agentsAlone } : pin)),
  });
}

/**
 * Once alpha's change reached alpha's client (`heard.alpha` is `alpha`): after one more pass of the
 * watcher, bravo's clients have heard nothing (a leaked notification was sent in the same moment as
 * alpha's own, and had that pass besides to arrive). Then the other way round: bravo's own change
 * reaches bravo's client (its stream is alive, so its silence meant something), and after one more
 * pass, alpha's client has heard nothing of it.
 */
async function onlyTheirOwn(alpha: number, bravo: number): Promise<void> {
  await watcher.poll();
  expect(heard).toEqual({ alpha, bravo, bravoLegacy: 0 });
  await changePin(BRAVO);
  await watcher.poll();
  await until(() => heard.bravo === bravo + 1, "bravo's own change");
  await watcher.poll();
  expect(heard).toEqual({ alpha, bravo: bravo + 1, bravoLegacy: 0 });
}

beforeAll(async () => {
  ns = await testNamespace('listchg');
  redis = new Redis(ns.installation.redis);
  issuer = await keyHoldingIssuer();
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  for (const id of [ALPHA, BRAVO])
    await registry.create({ id, plan: planByName('small'), isolation: 'runc', tools: defaultTools() });
  const tenants = new TenantDirectory({ source: registry });
  watcher = new PinWatcher({ source: registry, logger, invalidate: (id) => tenants.invalidate(id) });
  await watcher.poll();
  router = await startIssuerRouter(issuer, {
    tenants,
    logger,
    prefix: ns.installation.registryPrefix,
    redis,
    toolChanges: watcher,
  });
  await listening(ALPHA, 'modern', () => (heard.alpha += 1));
  await listening(BRAVO, 'modern', () => (heard.bravo += 1));
  await listening(BRAVO, 'legacy', () => (heard.bravoLegacy += 1));
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await router?.close();
  await issuer?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

describe('tools/list_changed across tenants', () => {
  it("tells a tenant's listening client when its pins change, and the other tenant's clients nothing", async () => {
    await changePin(ALPHA);
    await watcher.poll();
    await until(() => heard.alpha === 1, "alpha's change");
    await onlyTheirOwn(1, 0);
    expect(logged.map((line) => line.tenants)).toEqual([[ALPHA], [BRAVO]]);
  });

  it('tells only the suspended tenant that it was suspended', async () => {
    await change(ALPHA, { status: 'suspended' });
    await watcher.poll();
    await until(() => heard.alpha === 2, "alpha's suspension");
    await onlyTheirOwn(2, 1);
  });

  it('tells only the tenant whose tool the drift guard withheld, as the router wires it (router/router.ts)', async () => {
    const guard = new DriftGuard({
      approved: RECORDS_TOOLS,
      logger,
      onChange: (tenants) =>
        watcher.notify({ tenants, reason: 'tenant tool definitions withheld or restored' }),
    });
    const drifted = { reason: 'missing' as const, expected: 'e'.repeat(64), actual: null };
    guard.share(new Map([[ALPHA, new Map([['records_update', drifted]])]]));
    await until(() => heard.alpha === 3, "alpha's withheld tool");
    await onlyTheirOwn(3, 2);
  });

  it('tells a client whose token has expired nothing more (its stream ends with the token)', async () => {
    let expired = 0;
    const exp = await listening(ALPHA, 'modern', () => (expired += 1), SHORT_LIFETIME_SECONDS);
    // Past the expiry and the harness's clock tolerance (1 s): no request of that token is served now.
    await new Promise((resolve) => setTimeout(resolve, (exp + 2) * 1000 - Date.now()));
    const before = heard.alpha;
    await changePin(ALPHA);
    await watcher.poll();
    await until(() => heard.alpha === before + 1, "alpha's change on its other client's stream");
    // One more pass: a notification to the expired client was sent in the same moment as the other's.
    await watcher.poll();
    expect(expired).toBe(0);
  });

  it("holds a tenant to its share of listen streams, and another tenant's clients still listen", async () => {
    const token = await issuer.sign(
      agentClaims({ issuer: issuer.issuer, audience: router.mcpUrl, agent: 'alpha-many', tenant: ALPHA }),
    );
    const many = await bearerClient(router.mcpUrl, token);
    clients.push(many);
    // Alpha's first client holds one: the share's rest opens, and the next is refused before any
    // acknowledgement, with the structured error.
    for (let i = 1; i < MAX_LISTEN_STREAMS_PER_TENANT; i++) await many.listen({ toolsListChanged: true });
    const refused = await many.listen({ toolsListChanged: true }).then(
      () => undefined,
      (error: unknown) => error as { code?: number; data?: unknown },
    );
    expect(refused?.code).toBe(-32000);
    expect(refused?.data).toMatchObject({ code: 'listen_limit', error_class: 'rate_limit' });
    // Bravo opens another, and its change reaches it.
    let heardHere = 0;
    await listening(BRAVO, 'modern', () => (heardHere += 1));
    await changePin(BRAVO);
    await watcher.poll();
    await until(() => heardHere === 1, "bravo's change on its new stream");
  });

  it('tells a client of an offboarded tenant nothing of the tenant onboarded again under its id', async () => {
    const before = { ...heard };
    // Offboarded and onboarded again between two passes of the watcher (a later createdAt).
    await registry.delete(BRAVO, { actor: 'test' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await registry.create({ id: BRAVO, plan: planByName('small'), isolation: 'runc', tools: defaultTools() });
    let later = 0;
    await listening(BRAVO, 'modern', () => (later += 1));
    await watcher.poll();
    await changePin(BRAVO);
    await watcher.poll();
    await until(() => later === 1, "the later bravo's change");
    await watcher.poll();
    // The earlier bravo's clients, still connected, heard nothing of it.
    expect(heard).toEqual(before);
    expect(later).toBe(1);
  });
});
