// A pack reaches a downstream API the ordinary way (Node's fetch following HTTP_PROXY) through the
// egress gateway, on the real engine, Redis, supervisor and router: the pack is built, approved and
// enabled for a tenant like any operator's pack, the tenant's policy allows one loopback upstream
// for that pack, and an agent calls the pack's tool through the router. The allowed upstream
// answers; another host is refused with the gateway's error; each upstream call is in the tenant's
// audit trail under the pack's name; the container still has only `lo`.
import { cp as copy, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressGateway, type RunningEgressGateway } from '../../egress/gateway.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { packImage } from '../../kernel/packs/pack-manifest.ts';
import { openControlPlane, type OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { approvePack, buildPack, reviewPack } from '../../tenants/control-plane/packs.ts';
import { updateTenant } from '../../tenants/control-plane/update.ts';
import { SecretStore } from '../../kernel/secrets/secret-store.ts';
import { startUpstream, type Upstream } from '../support/egress.ts';
import { agentClient, containerId } from '../support/mcp-client.ts';
import { execIn, REDIS_URL } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'pack-egress';
let stack: TestStack;
let cp: OpenedControlPlane;
let gateway: RunningEgressGateway;
let redis: Redis;
let allowed: Upstream;
let refused: Upstream;
let work: string;
let image: string;

beforeAll(async () => {
  stack = await startTestStack('packegress', { router: { pinWatchIntervalMs: 100 } });
  [allowed, refused] = await Promise.all([startUpstream('allowed'), startUpstream('refused')]);
  work = await mkdtemp(join(tmpdir(), 'bulkhead-pack-egress-'));
  cp = await openControlPlane({
    redisUrl: REDIS_URL,
    namespace: stack.ns.namespace,
    secretsKeyFile: join(stack.ns.runDir, 'secrets.key'),
    actor: 'test:pack-egress',
  });
  await stack.onboard(TENANT);
  // The pack directory, whole: its stdio loop copied next to it.
  const dir = join(work, 'fetcher');
  await copy('test/support/fixtures/packs/fetcher', dir, { recursive: true });
  await copy('test/support/fixtures/packs/stdio-server.mjs', join(dir, 'stdio-server.mjs'));
  const version = `0.0.0-${stack.ns.namespace.slice(-6)}`;
  const { writeFile, readFile } = await import('node:fs/promises');
  const manifest = JSON.parse(await readFile(join(dir, 'bulkhead-pack.json'), 'utf8')) as { version: string };
  manifest.version = version;
  await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
  image = packImage({ name: 'fetcher', version });
  await buildPack(cp, dir, () => undefined);
  await approvePack(cp, await reviewPack(cp, { name: 'fetcher', version }));
  await updateTenant(cp, TENANT, { addPacks: [{ name: 'fetcher', version }] }, { progress: () => undefined });
  const record = await stack.registry.require(TENANT);
  await stack.registry.update(TENANT, {
    expectedGeneration: record.generation,
    changes: {
      packs: record.packs.map((p) => ({ ...p, agentsAlone: true })),
      // Only the fetcher pack may reach the allowed upstream; nothing else is allowed.
      egress: {
        mode: 'allowlist',
        hosts: [],
        packs: { fetcher: { hosts: [`127.0.0.1:${allowed.port}`] } },
        upstreams: {},
      },
    },
    author: { actor: 'test:pack-egress' },
  });
  // Each change above recycles the runtime (a new image, a new policy): wait (bounded) until the
  // same container has served for a while, so no call lands on one being replaced.
  let last: string | undefined;
  for (let steady = 0, i = 0; steady < 3 && i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const id = await containerId(stack, TENANT);
    steady = id !== undefined && id === last ? steady + 1 : 0;
    last = id;
  }
  redis = new Redis(stack.ns.installation.redis);
  gateway = await startEgressGateway({
    installation: stack.ns.installation,
    runDir: join(stack.ns.runDir, 'run'),
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    secrets: new SecretStore({
      redis,
      prefix: stack.ns.installation.registryPrefix,
      key: Buffer.alloc(32, 7),
    }),
    poolSize: 2,
    maxConnections: 16,
    dialsPerSecond: 100,
    refreshIntervalMs: 60_000,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
  });
}, 240_000);

afterAll(async () => {
  await gateway?.close();
  redis?.disconnect();
  await Promise.all([allowed, refused].map((u) => u?.close()));
  await cp?.close();
  await stack?.close();
  if (image)
    await stack?.ns.docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const client = await agentClient(stack, TENANT);
  try {
    await expect
      .poll(async () => (await client.listTools()).tools.map((t) => t.name), { timeout: 15_000 })
      .toContain('fetcher_get');
    // The gateway dials the new container's bridge on its pass: bounded wait until it has.
    for (let i = 0; i < 100 && (gateway.stats(TENANT)?.idle ?? 0) === 0; i++) {
      await gateway.refresh();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const result = await client.callTool({ name: 'fetcher_get', arguments: { url } });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as { status: number; body: string };
  } finally {
    await client.close();
  }
}

describe("a pack's downstream calls", () => {
  it('reach an allowed upstream through the gateway, are refused elsewhere, and are audited under the pack', async () => {
    const ok = await get(`http://127.0.0.1:${allowed.port}/v1/things`);
    expect(ok).toEqual({ status: 200, body: 'hello from allowed' });
    expect(allowed.seen.map((s) => s.url)).toContain('/v1/things');
    const denied = await get(`http://127.0.0.1:${refused.port}/v1/things`);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ error: 'egress_denied', port: refused.port });
    expect(refused.seen).toEqual([]);
    const trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
    // The gateway appends to the trail after it answers (egress/gateway.ts): poll, bounded.
    const egressEntries = async () => (await trail.entries(TENANT)).filter((e) => e.tool === 'egress');
    await expect
      .poll(
        async () => (await egressEntries()).map((e) => [e.decision, e.upstream?.port, e.upstream?.pack]),
        {
          timeout: 10_000,
        },
      )
      .toEqual([
        ['permit', allowed.port, 'fetcher'],
        ['deny', refused.port, 'fetcher'],
      ]);
    const upstream = await egressEntries();
    expect(upstream[0]?.upstream).toMatchObject({ method: 'GET', status: 200 });
    const id = await containerId(stack, TENANT);
    const net = await execIn(stack.ns.docker, id!, ['ls', '/sys/class/net']);
    expect(net.output.trim()).toBe('lo');
  }, 120_000);
});
