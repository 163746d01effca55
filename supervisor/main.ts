// Supervisor process entry: configuration from the environment, then wiring. The only process
// that holds the Docker socket.
import { pino } from 'pino';
import { z } from 'zod';
import { installation } from '../tenants/contracts/installation.ts';
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
  LOG_LEVEL                          pino level (default info)`;

const Env = z.object({
  BULKHEAD_REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  BULKHEAD_NAMESPACE: z.string().default('default'),
  BULKHEAD_RUN_DIR: z.string().default('/var/lib/bulkhead/run'),
  BULKHEAD_RUNTIME_IMAGE: z.string().default('bulkhead/runtime:latest'),
  BULKHEAD_ROUTER_PUBLIC_KEY_FILE: z.string().min(1),
  BULKHEAD_ROUTER_GID: z.coerce.number().int().min(0).default(0),
  LOG_LEVEL: z.string().default('info'),
});

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const parsed = Env.safeParse(process.env);
  if (!parsed.success) {
    console.error(`invalid configuration:\n${z.prettifyError(parsed.error)}\n\n${USAGE}`);
    process.exit(2);
  }
  const env = parsed.data;
  const logger = pino({ name: 'supervisor', level: env.LOG_LEVEL });
  const supervisor = await startSupervisor({
    installation: installation({ namespace: env.BULKHEAD_NAMESPACE, redisUrl: env.BULKHEAD_REDIS_URL }),
    runDir: env.BULKHEAD_RUN_DIR,
    image: env.BULKHEAD_RUNTIME_IMAGE,
    routerPublicKeyFile: env.BULKHEAD_ROUTER_PUBLIC_KEY_FILE,
    routerGid: env.BULKHEAD_ROUTER_GID,
    logger,
  });
  const stop = (): void => {
    logger.info('stopping');
    supervisor.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
