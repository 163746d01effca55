// The whole stack in one test process, each part wired as in production: the embedded IdP, the
// supervisor on the real Docker engine, the router on loopback, Redis, and a namespace of its own.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { startDevIdp, type DevIdpUser, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import type { LocalMetadataOrigin } from '../../dev/idp/dev-idp-options.ts';
import { authorizeUser, registerUserClient } from '../../dev/idp/dev-user-login.ts';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { startRouter, type RouterOptions, type RunningRouter } from '../../router/router.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import {
  startSupervisor,
  type RunningSupervisor,
  type SupervisorOptions,
} from '../../supervisor/supervisor.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { readFile } from 'node:fs/promises';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import {
  onboardTenant,
  type OnboardRequest,
  type OnboardResult,
} from '../../tenants/control-plane/onboard.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { openToAgentsAlone, TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from './namespace.ts';

/** Call quotas a test's loops do not reach (test stacks onboard with these unless told otherwise). */
export const TEST_QUOTAS = {
  callsPerMinute: 1_000_000,
  callsPerDay: 1_000_000_000,
  agentCallsPerMinute: 1_000_000,
  userCallsPerMinute: 1_000_000,
} as const;
export const INITIAL_ACCESS_TOKEN = 'test-initial-access-token-0123456789';
export const OTHER_RESOURCE = 'http://127.0.0.1:1/not-bulkhead';
/** Never contacted: the scripted login stops when the IdP redirects here. */
const USER_REDIRECT_URI = 'http://127.0.0.1:1/callback';

export interface TestStackOptions {
  /** Defaults to a silent logger (or LOG_LEVEL); pass one to capture the router's decision log. */
  logger?: Logger;
  /** Accounts of the IdP for the authorization-code flow (`userToken`). */
  users?: DevIdpUser[];
  /** https origins on loopback whose Client ID Metadata Documents the IdP may fetch. */
  localMetadataOrigins?: LocalMetadataOrigin[];
  /** Runtime image (default BULKHEAD_RUNTIME_IMAGE), e.g. the -faults test variant. */
  image?: string;
  router?: Partial<
    Pick<
      RouterOptions,
      | 'toolCheckIntervalMs'
      | 'pinWatchIntervalMs'
      | 'idempotencyWindowMs'
      | 'idempotencyResultBytes'
      | 'sharedToolModules'
      | 'metricsPort'
      | 'metricsTenantLabel'
      | 'stateDeadlineMs'
      | 'runtimeJobTimeoutMs'
      | 'failOpenSharedReads'
      | 'tenantMaxInFlight'
      | 'tenantMaxQueued'
      | 'tenantQueueWaitMs'
      | 'otlpTracesEndpoint'
      | 'traceIdentities'
      | 'traceSampleRatio'
      | 'auditSecret'
    >
  >;
  callTimeoutMs?: number;
  routeFreshnessMs?: number;
  supervisor?: Partial<Omit<SupervisorOptions, 'installation' | 'logger'>>;
  /** A Redis of the test's own (test/support/private-redis.ts) for every part of the stack. */
  redisUrl?: string;
}

export interface TestStack {
  ns: TestNamespace;
  idp: StartedDevIdp;
  router: RunningRouter;
  readonly supervisor: RunningSupervisor;
  /** The egress gateway's signing key: the supervisor hands its public half to every container. */
  egressKey: KeyObject;
  /** Stops the supervisor process's parts and starts a new one on the same installation. */
  restartSupervisor(): Promise<RunningSupervisor>;
  runtimes: RuntimeClient;
  registry: TenantRegistry;
  mcpUrl: string;
  /** Onboards with the records tools open to agents alone unless `policy` sets tools, roles, issuers or isolation. */
  onboard(
    id: string,
    policy?: Partial<Pick<OnboardRequest, 'plan' | 'tools' | 'roles' | 'issuers' | 'isolation' | 'quotas'>>,
  ): Promise<OnboardResult>;
  /** The scopes the router advertises now (`scopes_supported` of its protected resource metadata). */
  scopes(): Promise<string[]>;
  /**
   * The tenant's agent, registered by the operator at the IdP for the scopes the router advertises
   * (registered again when they change, as an operator would once a pack is approved).
   */
  agentCredentials(tenant: string): Promise<{ clientId: string; clientSecret: string }>;
  /** An agent's token; `scope` defaults to every scope the router advertises. */
  agentToken(tenant: string, options?: { scope?: string; resource?: string }): Promise<string>;
  /**
   * Another router of the same installation (same Redis, keys and issuer), on its own port;
   * `overrides`: settings of its own (a benchmark's variant); `start`: another checkout's
   * `startRouter` (a benchmark's before).
   */
  replica(overrides?: Partial<RouterOptions>, start?: typeof startRouter): Promise<RunningRouter>;
  /** A user's token (authorization code flow, PKCE, scripted login); `scope`: every advertised one. */
  userToken(login: string, options: { tenant: string; scope?: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * A port for a server that starts later (its URL must be known first, e.g. as the token audience).
 * Chosen below Linux's ephemeral range (32768 and up), so no outgoing connection of any process can
 * take it between this check and the server's listen; in a slice of 20000-32767 of its own per
 * vitest worker, at random, never handed out twice by one process, and checked free by binding it.
 */
const handedOut = new Set<number>();
export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? 0) % 4;
  const [low, size] = [20_000 + worker * 3_000, 3_000];
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * size);
    if (handedOut.has(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((resolve) => server.close(resolve));
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port below the ephemeral range');
}

export async function startTestStack(label: string, options: TestStackOptions = {}): Promise<TestStack> {
  const ns = await testNamespace(label, options.redisUrl);
  const logger = options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  const keys = await ensureCallKeys(join(ns.runDir, 'keys'));
  const port = await freePort();
  const mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const idp = await startDevIdp({
    port: 0,
    resources: [
      // Also what the router advertises (its built-in scopes and every approved pack tool's).
      { url: mcpUrl, scopes: [...ALL_SCOPES], readMetadata: true },
      { url: OTHER_RESOURCE, scopes: [...ALL_SCOPES] },
    ],
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    users: options.users ?? [],
    localMetadataOrigins: options.localMetadataOrigins ?? [],
    logger,
  });
  const supervisorOptions: SupervisorOptions = {
    installation: ns.installation,
    runDir: join(ns.runDir, 'run'),
    image: options.image ?? RUNTIME_IMAGE,
    routerPublicKeyFile: keys.publicKeyFile,
    egressPublicKeyFile: keys.egress.publicKeyFile,
    routerGid: 0,
    logger,
    ...options.supervisor,
  };
  let supervisor = await startSupervisor(supervisorOptions);
  // One options object for the router and any replica a test starts next to it.
  const routerOptions = {
    installation: ns.installation,
    host: '127.0.0.1',
    resourceUrl: mcpUrl,
    issuer: idp.issuer,
    algorithms: ['ES256'],
    tenantClaim: 'tenant',
    clockToleranceSeconds: 5,
    callAssertionPrivateKey: await readFile(keys.privateKeyFile, 'utf8'),
    logger,
    ...options.router,
    ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
    ...(options.routeFreshnessMs === undefined ? {} : { routeFreshnessMs: options.routeFreshnessMs }),
  };
  const router = await startRouter({ ...routerOptions, port });
  const runtimes = new RuntimeClient({ redis: ns.installation.redis, prefix: ns.installation.jobsPrefix });
  await runtimes.ready();
  const redis = new Redis(ns.installation.redis);
  // A test may stop its own Redis (test/support/private-redis.ts): reconnect quietly meanwhile.
  redis.on('error', () => undefined);
  const registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  const audit = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
  const agents = new Map<string, { clientId: string; clientSecret: string }>();
  const metadataUrl = `${router.url}/.well-known/oauth-protected-resource/mcp`;
  const scopes = async (): Promise<string[]> => {
    const response = await fetch(metadataUrl);
    if (!response.ok) throw new Error(`${metadataUrl}: HTTP ${response.status}`);
    return ((await response.json()) as { scopes_supported: string[] }).scopes_supported;
  };
  const agentCredentials = async (tenant: string) => {
    const advertised = await scopes();
    const key = `${tenant} ${advertised.join(' ')}`;
    let agent = agents.get(key);
    if (!agent) {
      agent = await registerAgentClient({
        issuer: idp.issuer,
        initialAccessToken: INITIAL_ACCESS_TOKEN,
        tenant,
        scopes: advertised,
        clientName: `${tenant} test agent`,
      });
      agents.set(key, agent);
    }
    return agent;
  };

  return {
    ns,
    idp,
    router,
    egressKey: createPrivateKey(await readFile(keys.egress.privateKeyFile, 'utf8')),
    get supervisor() {
      return supervisor;
    },
    async restartSupervisor() {
      await supervisor.close();
      supervisor = await startSupervisor(supervisorOptions);
      return supervisor;
    },
    runtimes,
    registry,
    mcpUrl,
    replica: async (overrides = {}, start = startRouter) =>
      start({ ...routerOptions, ...overrides, port: await freePort() }),
    // Most tests call as agents acting alone (client credentials): unless a test sets its own
    // policy, the records tools are opened to them (the registry's own default opens only whoami).
    // Their loops would spend the small plan's call quotas: a test that is not about rate limits
    // gets budgets it cannot reach (the rate-limit tests set their own).
    onboard: (id, policy = {}) =>
      onboardTenant(
        { registry, runtimes, audit },
        {
          id,
          plan: 'small',
          isolation: 'runc',
          tools: openToAgentsAlone('all'),
          quotas: TEST_QUOTAS,
          ...policy,
        },
        () => undefined,
      ),
    scopes,
    agentCredentials,
    async agentToken(tenant, options = {}) {
      return mintClientCredentialsToken({
        issuer: idp.issuer,
        ...(await agentCredentials(tenant)),
        resource: options.resource ?? mcpUrl,
        scope: options.scope ?? (await scopes()).join(' '),
      });
    },
    async userToken(login, { tenant, scope }) {
      const { clientId } = await registerUserClient({
        issuer: idp.issuer,
        initialAccessToken: INITIAL_ACCESS_TOKEN,
        clientName: `${tenant} test app`,
        redirectUris: [USER_REDIRECT_URI],
        tenant,
      });
      const tokens = await authorizeUser({
        issuer: idp.issuer,
        clientId,
        redirectUri: USER_REDIRECT_URI,
        resource: mcpUrl,
        scope: scope ?? (await scopes()).join(' '),
        login,
      });
      return tokens.accessToken;
    },
    async close() {
      await router.close();
      await runtimes.close();
      await supervisor.close();
      await idp.close();
      redis.disconnect();
      await ns.cleanup();
    },
  };
}
