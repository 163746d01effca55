// Router process entry: configuration from the environment (router/config.ts), then wiring. The
// router holds no Docker socket: it asks the supervisor for runtimes through BullMQ.
import { pino } from 'pino';
import { installation } from '../kernel/tenant/installation.ts';
import { exitOnInvalidConfig, loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { routerConfig } from './config.ts';
import { startRouter } from './router.ts';

async function main(): Promise<void> {
  const config = loadConfig(routerConfig);
  if (!config) return;
  const logger = pino({ name: 'router', level: config.logLevel });
  // The key file is optional in the declaration (code may pass the key itself), not here: its
  // absence is refused at start as the environment is.
  const router = await startRouter({
    ...config,
    installation: installation({ namespace: config.namespace, redisUrl: config.redisUrl }),
    logger,
  }).catch(exitOnInvalidConfig(routerConfig));
  stopOnSignals(() => router.close());
}

await main();
