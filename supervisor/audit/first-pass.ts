// What a sealer does once, at its first pass, before it seals anything: the audit directory brought
// back to what its passes leave. A failure is logged and the pass goes on: nothing here stops a
// tenant's sealing.
import type { Logger } from 'pino';
import {
  removeStaleTempDirs,
  removeStaleTempFiles,
  STALE_TEMP_MS,
} from '../../kernel/audit/stale-temporaries.ts';

export interface FirstPassOptions {
  /** The installation's audit directory. */
  dir: string;
  logger: Logger;
  now: Date;
}

/**
 * Removes the temporaries (directories, files) a sealer stopped mid-way left behind, past
 * STALE_TEMP_MS (what is left is read by no one).
 */
export async function firstPassHousekeeping(options: FirstPassOptions): Promise<void> {
  const { dir, logger, now } = options;
  const sweep = { olderThanMs: STALE_TEMP_MS, now };
  for (const [kind, remove] of [
    ['directories', removeStaleTempDirs],
    ['files', removeStaleTempFiles],
  ] as const)
    try {
      const removed = await remove(dir, sweep);
      if (removed.length > 0) logger.info({ removed }, `temporary audit ${kind} left behind: removed`);
    } catch (error) {
      logger.warn({ err: error }, `temporary audit ${kind} not swept`);
    }
}
