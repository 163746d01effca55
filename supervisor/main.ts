// Supervisor process entry: configuration from the environment (supervisor/config.ts), then wiring.
// The only process that holds the Docker socket.
import { pino } from 'pino';
import { isBulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { installation } from '../kernel/tenant/installation.ts';
import { loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { supervisorConfig } from './config.ts';
import { validateIdleTiers } from './lifecycle/idle-reaper.ts';
import { startSupervisor } from './supervisor.ts';

async function main(): Promise<void> {
  const config = loadConfig(supervisorConfig);
  if (!config) return;
  const { redisUrl, namespace, logLevel, idlePauseMs, idleStopMs, idleRemoveMs, ...settings } = config;
  const logger = pino({ name: 'supervisor', level: logLevel });
  const supervisor = await startSupervisor({
    ...settings,
    installation: installation({ namespace, redisUrl }),
    logger,
    ...(idlePauseMs === 0
      ? {}
      : {
          idleTiers: validateIdleTiers({
            pauseAfterMs: idlePauseMs,
            stopAfterMs: idleStopMs,
            removeAfterMs: idleRemoveMs,
          }),
        }),
  }).catch((error: unknown) => {
    // What is checked at start (the audit directory's access, settings that need one another), as
    // the environment is.
    if (!isBulkheadError(error, 'invalid_config')) throw error;
    console.error(`${error.message}\n\n${supervisorConfig.usage()}`);
    process.exit(2);
  });
  stopOnSignals(
    () => supervisor.close(),
    () => logger.info('stopping'),
  );
}

await main();
