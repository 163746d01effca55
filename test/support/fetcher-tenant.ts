// A test stack's tenant with the fetcher pack (test/support/fixtures/packs/fetcher/) built, approved
// and enabled like any operator's pack, its policy allowing that pack one loopback upstream, and the
// egress gateway dialing the stack's tenants: the setup of the egress tests through the router.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startEgressGateway, type RunningEgressGateway } from '../../egress/gateway.ts';
import { packImage } from '../../kernel/packs/pack-manifest.ts';
import { SecretStore } from '../../kernel/secrets/secret-store.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import { openControlPlane, type OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { startUpstream, type Upstream } from './egress.ts';
import { approveFixturePack, enableFixturePack } from './fixture-pack.ts';
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
  const pin = await approveFixturePack({ ...options, name: 'fetcher' });
  await enableFixturePack({
    ...options,
    pin,
    // Only the fetcher pack may reach the allowed upstream; nothing else is allowed.
    changes: {
      egress: {
        mode: 'allowlist',
        hosts: [],
        packs: { fetcher: { hosts: [`127.0.0.1:${options.allowedPort}`] } },
        upstreams: {},
      },
    },
  });
  return packImage(pin);
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
    maxUpstreamSockets: 16,
    dialsPerSecond: 100,
    auditBacklog: 10_000,
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
