// Supervisor process entry: configuration from the environment, then wiring. The only process
// that holds the Docker socket.
import { pino } from 'pino';
import { z } from 'zod';
import { installation } from '../kernel/tenant/installation.ts';
import { processConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { validateIdleTiers } from './lifecycle/idle-reaper.ts';
import { startSupervisor } from './supervisor.ts';

const USAGE = `Usage: node supervisor/main.ts

Runs the Bulkhead supervisor: creates, health-checks and removes one hardened container per tenant.
Environment:
  BULKHEAD_REDIS_URL                 Redis URL (default redis://127.0.0.1:6379)
  BULKHEAD_NAMESPACE                 installation namespace (default "default")
  BULKHEAD_RUN_DIR                   host directory for tenant socket directories (default /var/lib/bulkhead/run)
  BULKHEAD_RUNTIME_IMAGE             tenant runtime image (default bulkhead/runtime:latest)
  BULKHEAD_ROUTER_PUBLIC_KEY_FILE    router call-assertion public key, SPKI PEM (required)
  BULKHEAD_ROUTER_GID                group allowed into socket directories (default 0)
  BULKHEAD_CREATE_LIMIT              concurrent container creates and starts (default 4)
  BULKHEAD_IDLE_PAUSE_MS             idle time before a runtime is paused (default 300000; 0: no idle tiers)
  BULKHEAD_IDLE_STOP_MS              idle time before it is stopped (default 1800000)
  BULKHEAD_IDLE_REMOVE_MS            idle time before its container is removed, volume kept (default 86400000)
  BULKHEAD_HEALTH_INTERVAL_MS        health pass interval (default 10000)
  BULKHEAD_RECONCILE_INTERVAL_MS     reconciliation interval (default 30000)
  BULKHEAD_METRICS_PORT              loopback port for Prometheus /metrics (default: none)
  LOG_LEVEL                          pino level (default info)`;

const Env = z.object({
  BULKHEAD_REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  BULKHEAD_NAMESPACE: z.string().default('default'),
  BULKHEAD_RUN_DIR: z.string().default('/var/lib/bulkhead/run'),
  BULKHEAD_RUNTIME_IMAGE: z.string().default('bulkhead/runtime:latest'),
  BULKHEAD_ROUTER_PUBLIC_KEY_FILE: z.string().min(1),
  BULKHEAD_ROUTER_GID: z.coerce.number().int().min(0).default(0),
  BULKHEAD_CREATE_LIMIT: z.coerce.number().int().min(1).max(64).default(4),
  // At least 2 s: routers re-check a route's epoch every 500 ms (see supervisor/client/runtime-epochs.ts).
  BULKHEAD_IDLE_PAUSE_MS: z.coerce
    .number()
    .int()
    .refine((v) => v === 0 || v >= 2_000, 'use 0 (off) or at least 2000')
    .default(300_000),
  BULKHEAD_IDLE_STOP_MS: z.coerce.number().int().min(2_000).default(1_800_000),
  BULKHEAD_IDLE_REMOVE_MS: z.coerce.number().int().min(2_000).default(86_400_000),
  BULKHEAD_HEALTH_INTERVAL_MS: z.coerce.number().int().min(500).default(10_000),
  BULKHEAD_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(30_000),
  BULKHEAD_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.string().default('info'),
});

async function main(): Promise<void> {
  const env = processConfig(Env, USAGE);
  if (!env) return;
  const logger = pino({ name: 'supervisor', level: env.LOG_LEVEL });
  const supervisor = await startSupervisor({
    installation: installation({ namespace: env.BULKHEAD_NAMESPACE, redisUrl: env.BULKHEAD_REDIS_URL }),
    runDir: env.BULKHEAD_RUN_DIR,
    image: env.BULKHEAD_RUNTIME_IMAGE,
    routerPublicKeyFile: env.BULKHEAD_ROUTER_PUBLIC_KEY_FILE,
    routerGid: env.BULKHEAD_ROUTER_GID,
    logger,
    createLimit: env.BULKHEAD_CREATE_LIMIT,
    healthIntervalMs: env.BULKHEAD_HEALTH_INTERVAL_MS,
    reconcileIntervalMs: env.BULKHEAD_RECONCILE_INTERVAL_MS,
    ...(env.BULKHEAD_IDLE_PAUSE_MS === 0
      ? {}
      : {
          idleTiers: validateIdleTiers({
            pauseAfterMs: env.BULKHEAD_IDLE_PAUSE_MS,
            stopAfterMs: env.BULKHEAD_IDLE_STOP_MS,
            removeAfterMs: env.BULKHEAD_IDLE_REMOVE_MS,
          }),
        }),
    ...(env.BULKHEAD_METRICS_PORT === undefined ? {} : { metricsPort: env.BULKHEAD_METRICS_PORT }),
  });
  stopOnSignals(
    () => supervisor.close(),
    () => logger.info('stopping'),
  );
}

await main();
