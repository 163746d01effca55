// Router process entry: configuration from the environment (router/config.ts), then wiring. The
// router holds no Docker socket: it asks the supervisor for runtimes through BullMQ.
import { pino } from 'pino';
import { isBulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { installation } from '../kernel/tenant/installation.ts';
import { loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { routerConfig } from './config.ts';
import { startRouter } from './router.ts';

async function main(): Promise<void> {
  const config = loadConfig(routerConfig);
  if (!config) return;
  const logger = pino({ name: 'router', level: config.logLevel });
  const router = await startRouter({
    ...config,
    installation: installation({ namespace: config.namespace, redisUrl: config.redisUrl }),
    logger,
  }).catch((error: unknown) => {
    // The key file is optional in the declaration (code may pass the key itself), not here.
    if (!isBulkheadError(error, 'invalid_config')) throw error;
    console.error(`${error.message}\n\n${routerConfig.usage()}`);
    process.exit(2);
  });
  stopOnSignals(() => router.close());
}

await main();
