// Console process entry: configuration from the environment (console/config.ts), then wiring.
import { pino } from 'pino';
import { installation } from '../kernel/tenant/installation.ts';
import { exitOnInvalidConfig, loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { consoleConfig } from './config.ts';
import { startConsole } from './console-server.ts';

const config = loadConfig(consoleConfig);
if (config) {
  const logger = pino({ name: 'console', level: config.logLevel });
  // What is read at start (the client secret, the sealed trails' access) is refused as the
  // environment is.
  const running = await startConsole({
    ...config,
    installation: installation({ namespace: config.namespace, redisUrl: config.redisUrl }),
    logger,
  }).catch(exitOnInvalidConfig(consoleConfig));
  console.log(`console listening on ${running.url}`);
  stopOnSignals(() => running.close());
}
