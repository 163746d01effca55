// Supervisor process entry: configuration from the environment (supervisor/config.ts), then wiring.
// The only process that holds the Docker socket.
import { pino } from 'pino';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { installation } from '../kernel/tenant/installation.ts';
import { exitOnInvalidConfig, loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { supervisorConfig } from './config.ts';
import { validateIdleTiers, type IdleTiers } from './lifecycle/idle-reaper.ts';
import { startSupervisor } from './supervisor.ts';

/**
 * The idle tiers the three settings make (none when pausing is off), in order or refused naming
 * them: each is checked alone by its schema, their order only here.
 */
function idleTiers(ms: { pause: number; stop: number; remove: number }): IdleTiers | undefined {
  if (ms.pause === 0) return undefined;
  try {
    return validateIdleTiers({ pauseAfterMs: ms.pause, stopAfterMs: ms.stop, removeAfterMs: ms.remove });
  } catch (error) {
    throw new BulkheadError(
      'invalid_config',
      `BULKHEAD_IDLE_PAUSE_MS ${ms.pause}, BULKHEAD_IDLE_STOP_MS ${ms.stop}, BULKHEAD_IDLE_REMOVE_MS ${ms.remove}: a runtime is paused, then stopped, then removed, so each must be at most the next`,
      { cause: error },
    );
  }
}

async function main(): Promise<void> {
  const config = loadConfig(supervisorConfig);
  if (!config) return;
  const { redisUrl, namespace, logLevel, idlePauseMs, idleStopMs, idleRemoveMs, ...settings } = config;
  const logger = pino({ name: 'supervisor', level: logLevel });
  const start = async () => {
    const tiers = idleTiers({ pause: idlePauseMs, stop: idleStopMs, remove: idleRemoveMs });
    return startSupervisor({
      ...settings,
      installation: installation({ namespace, redisUrl }),
      logger,
      ...(tiers ? { idleTiers: tiers } : {}),
    });
  };
  // What is checked at start (the audit directory's access, settings that need one another, the
  // idle tiers' order) is refused as the environment is.
  const supervisor = await start().catch(exitOnInvalidConfig(supervisorConfig));
  stopOnSignals(
    () => supervisor.close(),
    () => logger.info('stopping'),
  );
}

await main();
