// Console process entry: configuration from the environment (console/config.ts), then wiring.
import { pino } from 'pino';
import { isBulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { installation } from '../kernel/tenant/installation.ts';
import { loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { consoleConfig } from './config.ts';
import { startConsole } from './console-server.ts';

const config = loadConfig(consoleConfig);
if (config) {
  const logger = pino({ name: 'console', level: config.logLevel });
  const running = await startConsole({
    ...config,
    installation: installation({ namespace: config.namespace, redisUrl: config.redisUrl }),
    logger,
  }).catch((error: unknown) => {
    // What is read at start (the client secret, the sealed trails' access), as the environment is.
    if (!isBulkheadError(error, 'invalid_config')) throw error;
    console.error(`${error.message}\n\n${consoleConfig.usage()}`);
    process.exit(2);
  });
  console.log(`console listening on ${running.url}`);
  stopOnSignals(() => running.close());
}
