// Supervisor process entry: configuration from the environment (supervisor/config.ts), then wiring.
// The only process that holds the Docker socket.
import { pino } from 'pino';
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
  });
  stopOnSignals(
    () => supervisor.close(),
    () => logger.info('stopping'),
  );
}

await main();
