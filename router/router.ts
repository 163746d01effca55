// Wires one router process: token verifier, tenant directory, runtime client, dispatcher, app.
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RuntimeClient } from '../supervisor/client/runtime-client.ts';
import { RouterRuntimeView } from '../supervisor/client/runtime-epochs.ts';
import { SocketTamperLog } from '../supervisor/client/socket-tamper.ts';
import type { Installation } from '../kernel/tenant/installation.ts';
import { ALL_SCOPES, RECORDS_TOOLS } from '../kernel/packs/manifest.ts';
import { TenantRegistry } from '../kernel/registry/tenant-registry.ts';
import { AuditTrail } from '../kernel/audit/audit-trail.ts';
import { createApp } from './app.ts';
import { createTokenVerifier } from './auth/token-verifier.ts';
import type { TrustedIssuerInput } from './auth/trusted-issuers.ts';
import { DEFAULT_READ_BOUNDS, responseCapFor, type RuntimeReadBounds } from './dispatch/bounded-fetch.ts';
import { createCallSigner } from './dispatch/call-signer.ts';
import { createBreachRecorder } from './dispatch/security-events.ts';
import { TenantDispatcher } from './dispatch/tenant-dispatcher.ts';
import { TenantDirectory } from './tenancy/tenant-directory.ts';
import { defaultOriginPolicy } from './http/origin.ts';
import { SessionStore } from './mcp/sessions.ts';
import { DriftGuard } from './tools/drift-guard.ts';
import { IdempotencyStore } from './pipeline/idempotency.ts';
import { PinWatcher } from './tools/pin-watcher.ts';
import { builtInSharedTools, loadSharedTools } from './tools/shared-registry.ts';
import { ToolSurface } from './tools/tool-surface.ts';

/** The operator's published documentation that docs_search serves, shipped with the router. */
export const DEFAULT_DOCS_DIR = fileURLToPath(new URL('./tools/shared/docs/', import.meta.url));

export interface RouterOptions {
  installation: Installation;
  host: string;
  port: number;
  resourceUrl: string;
  issuer: string;
  jwksUri?: string;
  algorithms: string[];
  tenantClaim: string;
  /** Further trusted issuers, beyond the default one above; tenants bind to them by `issuers`. */
  extraIssuers?: TrustedIssuerInput[];
  clockToleranceSeconds: number;
  jwksCooldownSeconds?: number;
  callAssertionPrivateKey: string;
  logger: Logger;
  /** Exact browser origins allowed to call /mcp; default: the resource URL's origin. */
  allowedOrigins?: string[];
  /** Hostnames the Host header may name; default: the resource URL's hostname. */
  allowedHosts?: string[];
  /** Idle lifetime of a 2025-11-25 session (default 1 hour). */
  sessionIdleTtlSeconds?: number;
  /** Upper bound on a request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Operator shared tool modules (files default-exporting a SharedToolModule or an array). */
  sharedToolModules?: string[];
  docsDir?: string;
  idempotencyWindowMs?: number;
  /** How often tenant tool definitions are re-checked against the approved digests. */
  toolCheckIntervalMs?: number;
  /** How often tenant pins are polled for changes (tools/list_changed). */
  pinWatchIntervalMs?: number;
  /** A tenant call that gets no answer within this time fails as `transient` (default 30 s). */
  callTimeoutMs?: number;
  /** How long a verified route is trusted before its runtime epoch is checked again (default 500 ms). */
  routeFreshnessMs?: number;
  /**
   * Bounds on reads from tenant runtimes (defaults: DEFAULT_READ_BOUNDS). `maxResponseBytes` is the
   * ceiling: the cap in force derives from the runtime tools' payload bounds (responseCapFor).
   */
  runtimeBounds?: Partial<RuntimeReadBounds>;
}

export interface RunningRouter {
  url: string;
  close(): Promise<void>;
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { installation, logger } = options;
  const redis = new Redis({ ...installation.redis, lazyConnect: true });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  const runtimes = new RuntimeClient({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    onError: (error) => logger.warn({ err: error }, 'runtime job queue error'),
  });
  await runtimes.ready();
  const registry = new TenantRegistry({ redis, prefix: installation.registryPrefix });
  const tenants = new TenantDirectory({ source: registry });
  const watcher = new PinWatcher({
    source: registry,
    intervalMs: options.pinWatchIntervalMs ?? 5_000,
    logger,
    invalidate: (id) => tenants.invalidate(id),
  });
  const guard = new DriftGuard({
    approved: RECORDS_TOOLS,
    logger,
    onChange: () => watcher.notify('tenant tool definitions withheld or restored'),
  });
  const audit = new AuditTrail({ redis, prefix: installation.registryPrefix });
  const bounds = { ...DEFAULT_READ_BOUNDS, ...options.runtimeBounds };
  const tamper = new SocketTamperLog({ redis, prefix: installation.registryPrefix, audit, logger });
  const dispatcher = new TenantDispatcher({
    runtimes,
    sign: await createCallSigner(options.callAssertionPrivateKey),
    logger,
    guard,
    bounds: { ...bounds, maxResponseBytes: responseCapFor(RECORDS_TOOLS, bounds.maxResponseBytes) },
    onBreach: createBreachRecorder({
      logger,
      audit,
      redis,
      prefix: installation.registryPrefix,
      recycle: (request) => runtimes.recycle(request),
    }),
    ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
    ...(options.routeFreshnessMs === undefined ? {} : { routeFreshnessMs: options.routeFreshnessMs }),
    stateView: new RouterRuntimeView({ redis, prefix: installation.registryPrefix }),
    // A tampered socket: recorded here, replaced by the supervisor (the router holds no Docker).
    onSocketTampered: async (tenant, error) => {
      await tamper.record(tenant, error, 'bulkhead-router');
      await runtimes.requestRecycle(tenant, 'socket tampered with');
    },
  });
  const shared = await loadSharedTools({
    builtIns: builtInSharedTools({ docsDir: options.docsDir ?? DEFAULT_DOCS_DIR }),
    modulePaths: options.sharedToolModules ?? [],
  });
  const issuers: TrustedIssuerInput[] = [
    {
      issuer: options.issuer,
      tenantClaim: options.tenantClaim,
      ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}),
    },
    ...(options.extraIssuers ?? []),
  ];
  const app = createApp({
    resourceUrl: options.resourceUrl,
    authorizationServers: issuers.map((i) => i.issuer),
    scopesSupported: [...ALL_SCOPES],
    verify: createTokenVerifier({
      issuers,
      audience: options.resourceUrl,
      algorithms: options.algorithms,
      clockToleranceSeconds: options.clockToleranceSeconds,
      ...(options.jwksCooldownSeconds === undefined
        ? {}
        : { jwksCooldownSeconds: options.jwksCooldownSeconds }),
      tenants,
    }),
    tenants,
    dispatcher,
    audit,
    logger,
    sessions: new SessionStore({
      redis,
      prefix: installation.registryPrefix,
      idleTtlSeconds: options.sessionIdleTtlSeconds ?? 3600,
    }),
    originPolicy: {
      allowedOrigins: options.allowedOrigins ?? defaultOriginPolicy(options.resourceUrl).allowedOrigins,
      allowedHosts: options.allowedHosts ?? defaultOriginPolicy(options.resourceUrl).allowedHosts,
    },
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    surface: new ToolSurface({ shared: shared.map((m) => m.definition), guard }),
    sharedHandlers: new Map(shared.map((m) => [m.definition.name, m.handler])),
    idempotency: new IdempotencyStore({
      redis,
      prefix: installation.registryPrefix,
      ...(options.idempotencyWindowMs ? { windowMs: options.idempotencyWindowMs } : {}),
    }),
    toolChanges: watcher,
  });
  watcher.start();
  // Periodic rug-pull check; bounded by the process lifetime, cleared on close.
  const recheck = setInterval(() => {
    dispatcher.recheckTools().catch((error: unknown) => logger.warn({ err: error }, 'tool recheck failed'));
  }, options.toolCheckIntervalMs ?? 60_000).unref();
  const server: Server = app.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  logger.info({ url, resource: options.resourceUrl }, 'router listening');
  return {
    url,
    async close() {
      clearInterval(recheck);
      watcher.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
      await runtimes.close();
      redis.disconnect();
    },
  };
}
