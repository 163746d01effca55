// Wires one supervisor: registry, Docker driver, runtime manager and the BullMQ worker.
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Installation } from '../kernel/tenant/installation.ts';
import { TenantRegistry } from '../kernel/registry/tenant-registry.ts';
import { DockerDriver } from './docker/docker-driver.ts';
import { startRuntimeWorker } from './jobs/runtime-worker.ts';
import { RuntimeManager } from './lifecycle/runtime-manager.ts';
import { IsolationVerifier } from './verify/isolation-verifier.ts';
import Docker from 'dockerode';
import { RedisRuntimeEpochs } from './client/runtime-epochs.ts';
import { SocketTamperLog } from './client/socket-tamper.ts';
import { AuditTrail } from '../kernel/audit/audit-trail.ts';
import { CreateLimiter } from './lifecycle/create-limiter.ts';
import { HealthMonitor } from './lifecycle/health-monitor.ts';
import { every } from './lifecycle/periodic.ts';
import { IdleReaper, type IdleTiers } from './lifecycle/idle-reaper.ts';
import { reconcile } from './lifecycle/reconciler.ts';
import {
  collectRuntimeMetrics,
  publishRuntimeMetrics,
  renderPrometheus,
  serveMetrics,
} from './metrics/runtime-metrics.ts';

export interface SupervisorOptions {
  installation: Installation;
  runDir: string;
  image: string;
  routerPublicKeyFile: string;
  routerGid: number;
  logger: Logger;
  /** Concurrent container creates and starts (default 4); bursts queue. */
  createLimit?: number;
  /** Reconciliation from labels: at start, then this often (default 30 s). */
  reconcileIntervalMs?: number;
  /** Health pass over every running runtime (default 10 s). */
  healthIntervalMs?: number;
  /** Seconds a recycled container gets to drain in-flight calls (default 10). */
  drainSeconds?: number;
  /** Volume-init helpers younger than this are presumed in use by an ensure (default 120 s). */
  helperGraceMs?: number;
  /** Recycle runtimes older than this (default: no maximum age). */
  maxAgeMs?: number;
  /** Idle tiers; unset: runtimes stay running until recycled or removed. */
  idleTiers?: IdleTiers;
  /** How often the idle tiers are applied (default 1 s). */
  idleIntervalMs?: number;
  /** Metrics snapshot into Redis this often (default 15 s). */
  metricsIntervalMs?: number;
  /** Serve Prometheus `/metrics` on this loopback port (0: any free port; unset: no endpoint). */
  metricsPort?: number;
}

export interface RunningSupervisor {
  manager: RuntimeManager;
  driver: DockerDriver;
  health: HealthMonitor;
  idle: IdleReaper | undefined;
  epochs: RedisRuntimeEpochs;
  reconcile(): ReturnType<typeof reconcile>;
  /** Collects and publishes the metrics snapshot now. */
  publishMetrics(): Promise<void>;
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

export async function startSupervisor(options: SupervisorOptions): Promise<RunningSupervisor> {
  const { installation, logger } = options;
  const redis = new Redis({ ...installation.redis, lazyConnect: true });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  const registry = new TenantRegistry({ redis, prefix: installation.registryPrefix });
  const docker = new Docker();
  const driver = new DockerDriver({
    docker,
    namespace: installation.namespace,
    runDir: options.runDir,
    routerGid: options.routerGid,
    logger,
    createLimiter: new CreateLimiter(options.createLimit ?? 4),
    ...(options.drainSeconds === undefined ? {} : { drainSeconds: options.drainSeconds }),
  });
  const epochs = new RedisRuntimeEpochs({ redis, prefix: installation.registryPrefix });
  const tamper = new SocketTamperLog({
    redis,
    prefix: installation.registryPrefix,
    audit: new AuditTrail({ redis, prefix: installation.registryPrefix }),
    logger,
  });
  const manager = new RuntimeManager({
    driver,
    image: options.image,
    routerPublicKey: await readFile(options.routerPublicKeyFile, 'utf8'),
    logger,
    epochs,
    tamper,
  });
  const runReconcile = (): ReturnType<typeof reconcile> =>
    reconcile({
      manager,
      tenants: registry,
      logger,
      ...(options.helperGraceMs === undefined ? {} : { helperGraceMs: options.helperGraceMs }),
    });
  // Before taking jobs: adopt what survived a restart, remove what nobody claims.
  await runReconcile();
  const health = new HealthMonitor({
    manager,
    tenants: registry,
    logger,
    ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
  });
  const publishMetrics = async (): Promise<void> =>
    publishRuntimeMetrics(redis, installation.registryPrefix, await collectRuntimeMetrics(driver));
  const metricsServer =
    options.metricsPort === undefined
      ? undefined
      : await serveMetrics({
          host: '127.0.0.1',
          port: options.metricsPort,
          collect: async () =>
            renderPrometheus(
              await collectRuntimeMetrics(driver),
              driver.createLimiter,
              await tamper.counts(),
            ),
        });
  const idle = options.idleTiers
    ? new IdleReaper({ manager, epochs, tiers: options.idleTiers, logger })
    : undefined;
  const loops = [
    ...(idle ? [every('idle', options.idleIntervalMs ?? 1_000, () => idle.runOnce(), logger)] : []),
    every('metrics', options.metricsIntervalMs ?? 15_000, publishMetrics, logger),
    every('reconcile', options.reconcileIntervalMs ?? 30_000, runReconcile, logger),
    every('health', options.healthIntervalMs ?? 10_000, () => health.runOnce(), logger),
  ];
  const worker = startRuntimeWorker({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    manager,
    registry,
    logger,
    verifier: new IsolationVerifier({ docker, driver }),
  });
  await worker.waitUntilReady();
  logger.info({ namespace: installation.namespace, image: options.image }, 'supervisor ready');
  return {
    manager,
    driver,
    health,
    idle,
    epochs,
    reconcile: runReconcile,
    publishMetrics,
    metricsUrl: metricsServer?.url,
    async close() {
      await Promise.all(loops.map((loop) => loop.stop()));
      await metricsServer?.close();
      await worker.close();
      redis.disconnect();
    },
  };
}
