// A test stack's tenant with the fetcher pack (test/support/fixtures/packs/fetcher/) built, approved
// and enabled like any operator's pack, its policy allowing that pack one loopback upstream, and the
// egress gateway dialing the stack's tenants: the setup of the egress tests through the router.
import { cp as copy, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startEgressGateway, type RunningEgressGateway } from '../../egress/gateway.ts';
import { packImage } from '../../kernel/packs/pack-manifest.ts';
import { SecretStore } from '../../kernel/secrets/secret-store.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import { openControlPlane, type OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { approvePack, buildPack, reviewPack } from '../../tenants/control-plane/packs.ts';
import { updateTenant } from '../../tenants/control-plane/update.ts';
import { FIXTURE_PACKS } from './pack-image.ts';
import { startUpstream, type Upstream } from './egress.ts';
import { containerId } from './mcp-client.ts';
import { REDIS_URL } from './namespace.ts';
import { startTestStack, type TestStack, type TestStackOptions } from './stack.ts';

/**
 * Enables the fetcher pack for `tenant` (onboarded already), allowed to reach 127.0.0.1:`allowedPort`
 * only, and waits until the tenant's runtime stopped being replaced. Returns the pack's image.
 */
export async function enableFetcher(options: {
  stack: TestStack;
  cp: OpenedControlPlane;
  tenant: string;
  /** A scratch directory the pack is assembled in. */
  work: string;
  allowedPort: number;
}): Promise<string> {
  const { stack, cp, tenant } = options;
  // The pack directory, whole: its stdio loop copied next to it.
  const dir = join(options.work, 'fetcher');
  await copy(join(FIXTURE_PACKS, 'fetcher'), dir, { recursive: true });
  await copy(join(FIXTURE_PACKS, 'stdio-server.mjs'), join(dir, 'stdio-server.mjs'));
  const version = `0.0.0-${stack.ns.namespace.slice(-6)}`;
  const manifest = JSON.parse(await readFile(join(dir, 'bulkhead-pack.json'), 'utf8')) as { version: string };
  manifest.version = version;
  await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
  await buildPack(cp, dir, () => undefined);
  await approvePack(cp, await reviewPack(cp, { name: 'fetcher', version }));
  await updateTenant(cp, tenant, { addPacks: [{ name: 'fetcher', version }] }, { progress: () => undefined });
  const record = await stack.registry.require(tenant);
  await stack.registry.update(tenant, {
    expectedGeneration: record.generation,
    changes: {
      packs: record.packs.map((p) => ({ ...p, agentsAlone: true })),
      // Only the fetcher pack may reach the allowed upstream; nothing else is allowed.
      egress: {
        mode: 'allowlist',
        hosts: [],
        packs: { fetcher: { hosts: [`127.0.0.1:${options.allowedPort}`] } },
        upstreams: {},
      },
    },
    author: { actor: 'test:fetcher' },
  });
  // Each change above recycles the runtime (a new image, a new policy): wait (bounded) until the
  // same container has served for a while, so no call lands on one being replaced.
  let last: string | undefined;
  for (let steady = 0, i = 0; steady < 3 && i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const id = await containerId(stack, tenant);
    steady = id !== undefined && id === last ? steady + 1 : 0;
    last = id;
  }
  return packImage({ name: 'fetcher', version });
}

/** The egress gateway for the stack's tenants, in this process (its spans to `tracing`, if given). */
export function stackGateway(
  stack: TestStack,
  redis: Redis,
  options: { refreshIntervalMs?: number; tracing?: Tracing } = {},
): Promise<RunningEgressGateway> {
  return startEgressGateway({
    installation: stack.ns.installation,
    runDir: join(stack.ns.runDir, 'run'),
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    signingKey: stack.egressKey,
    secrets: new SecretStore({
      redis,
      prefix: stack.ns.installation.registryPrefix,
      key: Buffer.alloc(32, 7),
    }),
    poolSize: 2,
    maxConnections: 16,
    dialsPerSecond: 100,
    refreshIntervalMs: options.refreshIntervalMs ?? 60_000,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
    tracing: options.tracing,
  });
}

export interface FetcherStack {
  stack: TestStack;
  cp: OpenedControlPlane;
  gateway: RunningEgressGateway;
  redis: Redis;
  /** The upstream the fetcher pack may reach, and one it may not. */
  allowed: Upstream;
  refused: Upstream;
  close(): Promise<void>;
}

/** A test stack whose `tenant` has the fetcher pack enabled, and the egress gateway for it. */
export async function startFetcherStack(options: {
  label: string;
  tenant: string;
  stack?: TestStackOptions;
  gateway?: { refreshIntervalMs?: number; tracing?: Tracing };
}): Promise<FetcherStack> {
  const opened: Partial<FetcherStack> = {};
  let work: string | undefined;
  let image: string | undefined;
  const close = async (): Promise<void> => {
    await opened.gateway?.close();
    opened.redis?.disconnect();
    for (const upstream of [opened.allowed, opened.refused]) await upstream?.close();
    await opened.cp?.close();
    await opened.stack?.close();
    if (image)
      await opened.stack?.ns.docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  };
  try {
    const stack = (opened.stack = await startTestStack(options.label, {
      ...options.stack,
      router: { pinWatchIntervalMs: 100, ...options.stack?.router },
    }));
    [opened.allowed, opened.refused] = await Promise.all([
      startUpstream('allowed'),
      startUpstream('refused'),
    ]);
    work = await mkdtemp(join(tmpdir(), `bulkhead-${options.label}-`));
    const cp = (opened.cp = await openControlPlane({
      redisUrl: REDIS_URL,
      namespace: stack.ns.namespace,
      secretsKeyFile: join(stack.ns.runDir, 'secrets.key'),
      actor: `test:${options.label}`,
    }));
    await stack.onboard(options.tenant);
    image = await enableFetcher({
      stack,
      cp,
      tenant: options.tenant,
      work,
      allowedPort: opened.allowed.port,
    });
    opened.redis = new Redis(stack.ns.installation.redis);
    opened.gateway = await stackGateway(stack, opened.redis, options.gateway);
    return { ...(opened as Omit<FetcherStack, 'close'>), close };
  } catch (error) {
    await close();
    throw error;
  }
}
