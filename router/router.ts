// Wires one router process: token verifier, tenant directory, runtime client, dispatcher, app.
import { KEEP_ALIVE } from '../kernel/wire/keep-alive.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { RuntimeClient } from '../supervisor/client/runtime-client.ts';
import { RouterRuntimeView } from '../supervisor/client/runtime-epochs.ts';
import { SocketTamperLog } from '../supervisor/client/socket-tamper.ts';
import type { Installation } from '../kernel/tenant/installation.ts';
import { ALL_SCOPES, MANIFEST, RECORDS_TOOLS } from '../kernel/packs/manifest.ts';
import { TenantRegistry } from '../kernel/registry/tenant-registry.ts';
import { AuditTrail } from '../kernel/audit/audit-trail.ts';
import { ArgsDigester } from '../kernel/audit/audit-record.ts';
import { REFUSAL_SWEEP_MS, RepeatedRefusals } from './mcp/repeated-refusals.ts';
import { OncePerWait } from './pipeline/once-per-wait.ts';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { createApp } from './app.ts';
import { routerConfig, type RouterConfig } from './config.ts';
import { createTokenVerifier } from './auth/token-verifier.ts';
import type { TrustedIssuerInput } from './auth/trusted-issuers.ts';
import { responseCapFor } from './dispatch/bounded-fetch.ts';
import { createCallSigner } from './dispatch/call-signer.ts';
import { createRequestStateSeal, requestStateKey } from './mcp/request-state.ts';
import { createBreachRecorder } from './dispatch/security-events.ts';
import { TenantDispatcher } from './dispatch/tenant-dispatcher.ts';
import { TenantDirectory } from './tenancy/tenant-directory.ts';
import { defaultOriginPolicy } from './http/origin.ts';
import { SessionStore } from './mcp/sessions.ts';
import { DriftGuard } from './tools/drift-guard.ts';
import { SharedWithheld } from './tools/shared-withheld.ts';
import { RateLimiter } from '../kernel/ratelimit/rate-limiter.ts';
import { IdempotencyStore } from './pipeline/idempotency.ts';
import { compileOutputChecks } from './pipeline/output-schemas.ts';
import { RecordSealer } from './pipeline/record-sealing.ts';
import { unreadableRecordRecorder } from './pipeline/record-tampering.ts';
import { unkeptResultRecorder } from './pipeline/unkept-results.ts';
import { StateRedis } from './pipeline/state-guard.ts';
import { ConcurrencyGate } from '../kernel/process/concurrency-gate.ts';
import { PinWatcher } from './tools/pin-watcher.ts';
import { RequestDrain } from './http/request-drain.ts';
import { listenRouter } from './listener.ts';
import { PackCatalog } from './tools/pack-catalog.ts';
import { PackRegistry } from '../kernel/registry/pack-registry.ts';
import { AuthFloodGuard } from './auth/auth-flood-guard.ts';
import { AdvertisedScopes } from './auth/advertised-scopes.ts';
import { Scheduler } from '../kernel/process/scheduler.ts';
import { builtInSharedTools, loadSharedTools } from './tools/shared-registry.ts';
import { ToolSurface } from './tools/tool-surface.ts';
import { RouterMetrics } from './metrics/router-metrics.ts';
import { serveMetrics } from '../kernel/process/metrics-endpoint.ts';
import { startTracing } from '../kernel/telemetry/tracing.ts';
import { runtimeSpanSink } from './dispatch/runtime-spans.ts';

export { DEFAULT_DOCS_DIR } from './config.ts';

/** Settings startRouter takes from routerConfig; the Redis ones arrive as `installation`. */
type RouterSettings = Omit<RouterConfig, 'redisUrl' | 'namespace' | 'logLevel'>;

/**
 * What startRouter is given: the installation, a logger, the call-assertion key (or the file
 * holding it), and any of routerConfig's settings; the missing ones take their defaults there.
 */
export type RouterOptions = Partial<RouterSettings> &
  Pick<RouterSettings, 'issuer'> & {
    installation: Installation;
    logger: Logger;
    /** The call-assertion signing key (PKCS#8 PEM); read from `privateKeyFile` when absent. */
    callAssertionPrivateKey?: string;
    /** The installation's audit secret; read from `auditSecretFile`, else the call-assertion key. */
    auditSecret?: string;
  };

export interface RunningRouter {
  url: string;
  /** The loopback Prometheus endpoint, when BULKHEAD_ROUTER_METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Exports the spans queued now (none when the router does not trace). */
  flushTraces(): Promise<void>;
  close(): Promise<void>;
}

async function callAssertionKey(options: RouterOptions, keyFile: string | undefined): Promise<string> {
  if (options.callAssertionPrivateKey !== undefined) return options.callAssertionPrivateKey;
  if (keyFile === undefined) {
    throw new BulkheadError(
      'invalid_config',
      'BULKHEAD_ROUTER_PRIVATE_KEY_FILE: the call-assertion key is required',
    );
  }
  return readFile(keyFile, 'utf8');
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { installation, logger } = options;
  const config = routerConfig.resolve(options);
  const privateKey = await callAssertionKey(options, config.privateKeyFile);
  // Argument digests and the sealing of idempotency records are keyed per tenant from one
  // installation secret (kernel/audit/audit-record.ts, router/pipeline/record-sealing.ts): its own
  // file, or else the call-assertion key every router of the installation already holds (HKDF with
  // a label of each use's own, so the derived keys say nothing about the signing key or each other).
  const auditSecret =
    options.auditSecret ??
    (config.auditSecretFile === undefined ? privateKey : await readFile(config.auditSecretFile, 'utf8'));
  const state = { deadlineMs: config.stateDeadlineMs, failOpenSharedReads: config.failOpenSharedReads };
  // Bounded commands, so that a call is answered within its deadline when Redis is gone (the
  // options and why: router/pipeline/state-guard.ts).
  const redis = new StateRedis({ ...installation.redis, lazyConnect: true }, state);
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  const runtimes = new RuntimeClient({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    timeoutMs: config.runtimeJobTimeoutMs,
    submitTimeoutMs: config.stateDeadlineMs,
    onError: (error) => logger.warn({ err: error }, 'runtime job queue error'),
  });
  await runtimes.ready();
  const registry = new TenantRegistry({ redis, prefix: installation.registryPrefix });
  const tenants = new TenantDirectory({ source: registry });
  const shared = await loadSharedTools({
    builtIns: builtInSharedTools({ docsDir: config.docsDir }),
    modulePaths: config.sharedToolModules,
  });
  const packs = new PackCatalog({
    source: new PackRegistry({ redis, prefix: installation.registryPrefix }),
    shared: shared.map((module) => module.definition.name),
    logger,
  });
  const watcher = new PinWatcher({
    source: registry,
    packs,
    logger,
    invalidate: (id) => tenants.invalidate(id),
  });
  const drain = new RequestDrain();
  const metrics = new RouterMetrics({
    tenantLabel: config.metricsTenantLabel,
    inFlight: () => drain.inFlight,
  });
  const tracing = startTracing({
    service: 'bulkhead-router',
    endpoint: config.otlpTracesEndpoint,
    sampleRatio: config.traceSampleRatio,
    clientParents: true,
  });
  // What this router's checks withhold, the others withhold too, and the other way round.
  const sharedWithheld = new SharedWithheld({
    redis,
    prefix: installation.registryPrefix,
    logger,
    maxAgeMs: 3 * config.toolCheckIntervalMs,
  });
  const guard = new DriftGuard({
    approved: RECORDS_TOOLS,
    packDigests: (tenant) => packs.digestsFor(tenant),
    logger,
    onDrift: (tool, event) => metrics.driftEvent(tool, event),
    onChange: (tenants) =>
      watcher.notify({ tenants, reason: 'tenant tool definitions withheld or restored' }),
    onWithheld: (tenant, tool, withheld) => sharedWithheld.publish(tenant, tool, withheld),
    onRestored: (tenant, tool) => sharedWithheld.unpublish(tenant, tool),
  });
  const audit = new AuditTrail({ redis, prefix: installation.registryPrefix });
  const bounds = {
    maxResponseBytes: config.runtimeMaxResponseBytes,
    maxHeaderBytes: config.runtimeMaxHeaderBytes,
    maxStreamMessages: config.runtimeMaxStreamMessages,
    firstByteMs: config.runtimeFirstByteMs,
  };
  const tamper = new SocketTamperLog({ redis, prefix: installation.registryPrefix, audit, logger });
  compileOutputChecks(MANIFEST.filter((def) => def.kind === 'tenant'));
  const dispatcher = new TenantDispatcher({
    runtimes,
    sign: await createCallSigner(privateKey),
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
    callTimeoutMs: config.callTimeoutMs,
    onEnsured: (outcome, seconds) => metrics.ensured(outcome, seconds),
    onRuntimeSpans: tracing && runtimeSpanSink(tracing, logger),
    routeFreshnessMs: config.routeFreshnessMs,
    stateView: new RouterRuntimeView({ redis, prefix: installation.registryPrefix }),
    // A tampered socket: recorded here, replaced by the supervisor (the router holds no Docker).
    onSocketTampered: async (tenant, error) => {
      await tamper.record(tenant, error, 'bulkhead-router');
      await runtimes.requestRecycle(tenant, 'socket tampered with', { failed: true });
    },
  });
  const recordUnreadable = unreadableRecordRecorder({
    logger,
    audit,
    redis,
    prefix: installation.registryPrefix,
  });
  const scopes = new AdvertisedScopes({
    own: [...ALL_SCOPES, ...shared.flatMap((m) => (m.definition.scope === null ? [] : [m.definition.scope]))],
    packs,
    logger,
  });
  const issuers: TrustedIssuerInput[] = [
    {
      issuer: config.issuer,
      tenantClaim: config.tenantClaim,
      ...(config.jwksUri ? { jwksUri: config.jwksUri } : {}),
    },
    ...config.extraIssuers,
  ];
  const refusals = new RepeatedRefusals({
    // What a caller left out, written apart from any request: for the tenant the caller was of
    // only, its record still the one it was refused under (a tenant onboarded again under the id
    // is another customer, whose trail must not show the earlier one's agents), as call-audit.ts
    // writeAudit does for a record; logged whole when Redis does not confirm it.
    write: async (summary, tenantCreatedAt) => {
      try {
        const record = await tenants.get(summary.tenant);
        if (record && record.createdAt === tenantCreatedAt) return await audit.append(summary);
        logger.info(
          { audit: summary },
          'no audit trail: the tenant it was refused under has no record (offboarded, or onboarded again)',
        );
      } catch (error) {
        metrics.auditUnconfirmed();
        logger.error(
          { err: error, audit: summary },
          'audit record not confirmed written: logged here in full',
        );
      }
    },
  });
  const app = createApp({
    ...(config.authFailureBurst > 0
      ? {
          authFlood: new AuthFloodGuard({
            burst: config.authFailureBurst,
            refillPerSecond: config.authFailureRefillPerSecond,
          }),
        }
      : {}),
    resourceUrl: config.resourceUrl,
    authorizationServers: issuers.map((i) => i.issuer),
    scopesSupported: () => scopes.list(),
    verify: createTokenVerifier({
      issuers,
      audience: config.resourceUrl,
      algorithms: config.algorithms,
      clockToleranceSeconds: config.clockToleranceSeconds,
      jwksCooldownSeconds: config.jwksCooldownSeconds,
      maxTokenAgeSeconds: config.maxTokenAgeSeconds,
      cacheSeconds: config.tokenCacheSeconds,
      tenants,
    }),
    dispatcher,
    audit,
    digester: new ArgsDigester(auditSecret),
    refusals,
    // Rate-limit refusals' log lines: the first of a caller, then at most one a wait (refusal-log.ts).
    refusalLog: new OncePerWait(),
    logger,
    // One key on every replica: a 2026-07-28 client's retry may reach any of them.
    seal: createRequestStateSeal(requestStateKey(privateKey)),
    sessions: new SessionStore({
      redis,
      prefix: installation.registryPrefix,
      idleTtlSeconds: config.sessionIdleTtlSeconds,
      maxPerTenant: config.maxSessionsPerTenant,
    }),
    originPolicy: {
      allowedOrigins: config.allowedOrigins ?? defaultOriginPolicy(config.resourceUrl).allowedOrigins,
      allowedHosts: config.allowedHosts ?? defaultOriginPolicy(config.resourceUrl).allowedHosts,
    },
    maxBodyBytes: config.maxBodyBytes,
    surface: new ToolSurface({ shared: shared.map((m) => m.definition), guard, packs }),
    prompts: packs,
    sharedHandlers: new Map(shared.map((m) => [m.definition.name, m.handler])),
    idempotency: new IdempotencyStore({
      redis,
      prefix: installation.registryPrefix,
      sealer: new RecordSealer(auditSecret),
      windowMs: config.idempotencyWindowMs,
      maxFailures: config.idempotencyMaxFailures,
      maxKeptBytes: config.idempotencyResultBytes,
      onUnrecorded: ({ tenant, tool }, error) =>
        logger.warn({ tenant, tool, err: error }, 'write answered, its result not stored for replays'),
      onUnkept: unkeptResultRecorder({ logger, metrics }),
      onUnreadable: (scope) => {
        metrics.idempotencyRecordUnreadable(scope);
        recordUnreadable(scope);
      },
    }),
    limiter: new RateLimiter({ redis, prefix: installation.registryPrefix }),
    state,
    gate: new ConcurrencyGate({
      maxInFlight: config.tenantMaxInFlight,
      maxQueued: config.tenantMaxQueued,
      maxWaitMs: config.tenantQueueWaitMs,
    }),
    toolChanges: watcher,
    drain,
    metrics,
    tracing: tracing && { tracing, identities: config.traceIdentities },
  });
  // The router's loops on one scheduler (kernel/process/scheduler.ts): the pin watcher and the
  // tools other routers withhold (each with its first pass now, to know what each tenant is served
  // before anyone asks) and the rug-pull re-check.
  const shareWithheld = async () => guard.share(await sharedWithheld.read());
  await watcher.poll();
  await shareWithheld();
  const loops = new Scheduler({ logger });
  loops.every('tool pins', config.pinWatchIntervalMs, () => watcher.poll());
  loops.every('withheld tools', config.pinWatchIntervalMs, shareWithheld);
  loops.every('tool recheck', config.toolCheckIntervalMs, () => dispatcher.recheckTools());
  loops.every('refusal summaries', REFUSAL_SWEEP_MS, () => refusals.sweep());
  const server: Server = await listenRouter(app, { port: config.port, host: config.host });
  // Agents' clients, not the router, end idle connections (kernel/wire/keep-alive.ts).
  server.keepAliveTimeout = KEEP_ALIVE.listenerIdleMs;
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  // Its own listener (loopback unless configured): /metrics is never served on the public /mcp one.
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : await serveMetrics({
          host: config.metricsHost,
          port: config.metricsPort,
          registry: metrics.registry,
        });
  logger.info({ url, resource: config.resourceUrl, metrics: metricsServer?.url }, 'router listening');
  return {
    url,
    metricsUrl: metricsServer?.url,
    flushTraces: async () => tracing?.flush(),
    async close() {
      // Not ready from now on, still serving: a balancer that polls /healthz stops sending here
      // before the listener closes (router/http/request-drain.ts).
      drain.announce();
      if (config.shutdownNoticeMs > 0) await delay(config.shutdownNoticeMs);
      await loops.stop();
      // No new connections; the calls in flight finish, within the drain's deadline
      // (router/http/request-drain.ts), before whatever is left is cut. /metrics still answers
      // meanwhile: bulkhead_mcp_requests_in_flight shows the drain.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await drain.settle(config.shutdownDrainMs)))
        logger.warn({ in_flight: drain.inFlight }, 'shutdown cut requests still in flight');
      server.closeAllConnections();
      await closed;
      // What callers left out of the trail and no later record counted yet (repeated-refusals.ts).
      await refusals.close();
      await metricsServer?.close();
      await dispatcher.close();
      await runtimes.close();
      await tracing?.shutdown();
      redis.disconnect();
    },
  };
}
