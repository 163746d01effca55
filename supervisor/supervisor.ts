// Wires one supervisor: registry, Docker driver, the lifecycle controller with its observers (health
// pass, idle tiers, reconciliation) on one scheduler, and the BullMQ worker. Every setting not given
// takes its default from the declaration in supervisor/config.ts.
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Installation } from '../kernel/tenant/installation.ts';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { TenantRegistry } from '../kernel/registry/tenant-registry.ts';
import { Scheduler } from '../kernel/process/scheduler.ts';
import { DockerDriver } from './docker/docker-driver.ts';
import { startRuntimeWorker } from './jobs/runtime-worker.ts';
import { startPackWorker } from './jobs/pack-worker.ts';
import { PackImages } from './docker/pack-images.ts';
import { TenantImages } from './docker/tenant-images.ts';
import { PackRegistry } from '../kernel/registry/pack-registry.ts';
import { secretStoreOnceKeyed } from '../kernel/secrets/secret-store.ts';
import { packSecretSource } from './secrets/pack-secrets.ts';
import { RuntimeController } from './lifecycle/runtime-controller.ts';
import { IsolationVerifier } from './verify/isolation-verifier.ts';
import Docker from 'dockerode';
import { RedisRuntimeEpochs } from './client/runtime-epochs.ts';
import { SocketTamperLog } from './client/socket-tamper.ts';
import { AuditTrail } from '../kernel/audit/audit-trail.ts';
import { forgetRouterSecurityCounts } from '../kernel/audit/security-event.ts';
import { AuditSealer, type AuditSealerOptions } from './audit/audit-sealer.ts';
import { AuditShipper, type ShipperMetrics } from './audit/audit-shipper.ts';
import { requireSealAccess } from './audit/seal-access.ts';
import type { CreateLimiter } from './lifecycle/create-limiter.ts';
import { RedisRolloutLedger } from './lifecycle/rollout-ledger.ts';
import { CrashBreaker } from './lifecycle/crash-breaker.ts';
import { RedisCircuitStore } from './lifecycle/circuit-store.ts';
import { HealthMonitor } from './lifecycle/health-monitor.ts';
import { IdleReaper, type IdleTiers } from './lifecycle/idle-reaper.ts';
import { reconcile } from './lifecycle/reconciler.ts';
import { supervisorConfig, type SupervisorSettings } from './config.ts';
import { serveMetrics } from '../kernel/process/metrics-endpoint.ts';
import { startTracing } from '../kernel/telemetry/tracing.ts';
import { annotateStart } from './jobs/job-trace.ts';
import {
  collectRuntimeMetrics,
  publishRuntimeMetrics,
  SupervisorMetrics,
} from './metrics/runtime-metrics.ts';

/** The process's own settings (environment only) and the idle tiers, which come as one option. */
type EnvOnly = 'redisUrl' | 'namespace' | 'logLevel' | 'idlePauseMs' | 'idleStopMs' | 'idleRemoveMs';

export type SupervisorOptions = Partial<Omit<SupervisorSettings, EnvOnly>> &
  Pick<SupervisorSettings, 'routerPublicKeyFile'> & {
    installation: Installation;
    logger: Logger;
    /** Idle tiers; unset: runtimes stay running until recycled or removed. */
    idleTiers?: IdleTiers | undefined;
    /** The engine client; unset: the local engine (a benchmark passes one that changes a create). */
    docker?: Docker | undefined;
  };

export interface RunningSupervisor {
  /** The lifecycle controller (the name tests and benchmarks have always used). */
  manager: RuntimeController;
  driver: DockerDriver;
  health: HealthMonitor;
  idle: IdleReaper | undefined;
  epochs: RedisRuntimeEpochs;
  createLimiter: CreateLimiter;
  reconcile(): ReturnType<typeof reconcile>;
  /** Collects and publishes the metrics snapshot now. */
  publishMetrics(): Promise<void>;
  /** Seals audit entries into signed segments; undefined without a signing key. */
  sealer: AuditSealer | undefined;
  /** The prom-client registry behind the `/metrics` endpoint. */
  metrics: SupervisorMetrics;
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

export async function startSupervisor(options: SupervisorOptions): Promise<RunningSupervisor> {
  const { installation, logger, idleTiers, docker = new Docker(), ...given } = options;
  const settings = supervisorConfig.resolve(given);
  // Before anything starts: an endpoint without a key would never ship anything (nothing is sealed).
  if (settings.auditOtlpLogsEndpoint !== undefined && settings.auditSigningKeyFile === undefined)
    throw new BulkheadError(
      'invalid_config',
      'BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT ships sealed audit segments: set BULKHEAD_AUDIT_SIGNING_KEY_FILE too',
    );
  // A sealer that cannot write its segments or give them the readers' group fails every pass.
  if (settings.auditSigningKeyFile !== undefined)
    await requireSealAccess(settings.auditDir, settings.auditReaderGid);
  const redis = new Redis({ ...installation.redis, lazyConnect: true });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  const registry = new TenantRegistry({ redis, prefix: installation.registryPrefix });
  const tracing = startTracing({ service: 'bulkhead-supervisor', endpoint: settings.otlpTracesEndpoint });
  const driver = new DockerDriver({
    docker,
    namespace: installation.namespace,
    runDir: settings.runDir,
    routerGid: settings.routerGid,
    logger,
    toolImage: settings.image,
  });
  const epochs = new RedisRuntimeEpochs({ redis, prefix: installation.registryPrefix });
  const trail = new AuditTrail({ redis, prefix: installation.registryPrefix });
  const tamper = new SocketTamperLog({ redis, prefix: installation.registryPrefix, audit: trail, logger });
  const metrics = new SupervisorMetrics();
  const images = new TenantImages({
    docker,
    runtimeImage: settings.image,
    approvals: new PackRegistry({ redis, prefix: installation.registryPrefix }),
  });
  // The crash circuit goes on where the last supervisor left it (crash-breaker.ts), loaded before
  // the reconciler or a job can act on a tenant.
  const breaker = new CrashBreaker({
    baseBackoffMs: settings.crashBackoffMs,
    store: new RedisCircuitStore({ redis, prefix: installation.registryPrefix, logger }),
  });
  await breaker.load(await registry.list());
  const manager = new RuntimeController({
    driver,
    breaker,
    image: settings.image,
    routerPublicKey: await readFile(settings.routerPublicKeyFile, 'utf8'),
    ...(settings.egressPublicKeyFile
      ? { egressPublicKey: await readFile(settings.egressPublicKeyFile, 'utf8') }
      : {}),
    logger,
    settings,
    epochs,
    tamper,
    registry,
    onReady: (ready) => {
      metrics.observeReady(ready);
      annotateStart(ready);
    },
    images,
    packSecrets: packSecretSource({
      declared: (tenant) => images.declaredSecrets(tenant),
      store: settings.secretsKeyFile
        ? secretStoreOnceKeyed({ file: settings.secretsKeyFile, redis, prefix: installation.registryPrefix })
        : () => undefined,
      logger,
    }),
  });
  // Observers see the driver read-only and leave every change to the controller.
  const view = driver;
  const runReconcile = (): ReturnType<typeof reconcile> =>
    reconcile({
      view,
      controller: manager,
      tenants: registry,
      logger,
      helperGraceMs: settings.helperGraceMs,
    });
  // Before taking jobs: adopt what survived a restart, remove what nobody claims.
  await runReconcile();
  const health = new HealthMonitor({
    view,
    controller: manager,
    tenants: registry,
    maxAgeMs: settings.maxAgeMs,
    replacementsPerPass: settings.replacementsPerPass,
    probationMs: settings.replacementProbationMs,
    logger,
    onPass: metrics.observePass,
    ledger: new RedisRolloutLedger({ redis, prefix: installation.registryPrefix }),
  });
  const publishMetrics = async (): Promise<void> =>
    publishRuntimeMetrics(redis, installation.registryPrefix, await collectRuntimeMetrics(driver));
  const metricsServer =
    settings.metricsPort === undefined
      ? undefined
      : await serveMetrics({
          host: settings.metricsHost,
          port: settings.metricsPort,
          registry: metrics.registry,
          refresh: async () =>
            metrics.update(await collectRuntimeMetrics(driver), manager.createLimiter, await tamper.counts()),
        });
  const idle = idleTiers
    ? new IdleReaper({ view, epochs, controller: manager, tiers: idleTiers, logger })
    : undefined;
  const scheduler = new Scheduler({ logger });
  if (idle) scheduler.every('idle', settings.idleIntervalMs, () => idle.runOnce());
  scheduler.every('metrics', settings.metricsIntervalMs, publishMetrics);
  scheduler.every('reconcile', settings.reconcileIntervalMs, runReconcile);
  scheduler.every('health', settings.healthIntervalMs, () => health.runOnce());
  const sealer = await auditSealer(settings, {
    trail,
    tenants: registry,
    logger,
    shipping: metrics.auditShipping,
  });
  if (sealer) scheduler.every('audit seal', settings.auditSealIntervalMs, () => sealer.runOnce());
  const worker = startRuntimeWorker({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    manager,
    registry,
    logger,
    tracing,
    activity: epochs,
    audit: sealer,
    securityCounts: {
      forget: async (tenantId) => {
        await tamper.forget(tenantId);
        await forgetRouterSecurityCounts(redis, installation.registryPrefix, tenantId);
      },
    },
    preparer: manager,
    verifier: new IsolationVerifier({
      docker,
      driver,
      cpuBoostSettled: (tenantId) => manager.cpuBoostSettled(tenantId),
    }),
  });
  const packWorker = startPackWorker({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    images: new PackImages({ docker, runtimeImage: settings.image, namespace: installation.namespace }),
    logger,
  });
  await Promise.all([worker.waitUntilReady(), packWorker.waitUntilReady()]);
  logger.info({ namespace: installation.namespace, image: settings.image }, 'supervisor ready');
  return {
    manager,
    driver,
    health,
    idle,
    epochs,
    createLimiter: manager.createLimiter,
    reconcile: runReconcile,
    publishMetrics,
    sealer,
    metrics,
    metricsUrl: metricsServer?.url,
    async close() {
      await scheduler.stop();
      // A last pass, so that what was appended until the stop is sealed rather than left in Redis.
      await sealer
        ?.runOnce()
        .catch((error: unknown) => logger.error({ err: error }, 'final audit seal failed'));
      await metricsServer?.close();
      await Promise.all([worker.close(), packWorker.close()]);
      await manager.close();
      await tracing?.shutdown();
      redis.disconnect();
    },
  };
}

/**
 * The audit sealer, when a signing key is configured (without one, entries stay in Redis), with its
 * shipper when a logs endpoint is too (an endpoint without a key is refused by startSupervisor).
 */
async function auditSealer(
  settings: SupervisorSettings,
  deps: Pick<AuditSealerOptions, 'trail' | 'tenants' | 'logger'> & { shipping: ShipperMetrics },
): Promise<AuditSealer | undefined> {
  const { shipping, ...sealerDeps } = deps;
  if (settings.auditSigningKeyFile === undefined) {
    deps.logger.warn('BULKHEAD_AUDIT_SIGNING_KEY_FILE unset: audit entries are not sealed out of Redis');
    return undefined;
  }
  const privateKey = createPrivateKey(await readFile(settings.auditSigningKeyFile, 'utf8'));
  const shipper =
    settings.auditOtlpLogsEndpoint === undefined
      ? undefined
      : new AuditShipper({
          dir: settings.auditDir,
          privateKey,
          exporter: new OTLPLogExporter({ url: settings.auditOtlpLogsEndpoint }),
          readerGid: settings.auditReaderGid,
          logger: deps.logger,
          metrics: shipping,
        });
  return new AuditSealer({
    ...sealerDeps,
    dir: settings.auditDir,
    privateKey,
    maxEntries: settings.auditSegmentMaxEntries,
    readerGid: settings.auditReaderGid,
    shipper,
  });
}
