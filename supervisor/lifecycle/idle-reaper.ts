// Idle tiers: running -> paused -> stopped -> removed (volume kept), after configurable idle times
// measured from the last call routers recorded (runtime-epochs.ts). The reaper only looks (a
// read-only view of the driver and the routers' activity) and asks the lifecycle controller for the
// tier; the controller re-checks it under the tenant's lock and bumps the tenant's epoch, atomically
// with a last check that the tenant is still idle, before the container freezes or goes.
import type { Logger } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RedisRuntimeEpochs } from '../client/runtime-epochs.ts';
import type { RuntimeView } from '../runtime/runtime-driver.ts';
import type { LifecycleEvent } from './lifecycle-state.ts';
import { idleEvent, type IdleTiers } from './observation-policy.ts';
import { observedState } from './lifecycle-state.ts';
import { RecentLog } from './recent-log.ts';
import type { RuntimeController } from './runtime-controller.ts';

export type { IdleTiers } from './observation-policy.ts';

export function validateIdleTiers(tiers: IdleTiers): IdleTiers {
  if (!(
    tiers.pauseAfterMs > 0 &&
    tiers.pauseAfterMs <= tiers.stopAfterMs &&
    tiers.stopAfterMs <= tiers.removeAfterMs
  ))
    throw new BulkheadError(
      'invalid_config',
      'idle tiers must satisfy 0 < pauseAfterMs <= stopAfterMs <= removeAfterMs',
    );
  return tiers;
}

export interface IdleReaperOptions {
  view: Pick<RuntimeView, 'list'>;
  epochs: Pick<RedisRuntimeEpochs, 'activity'>;
  controller: Pick<RuntimeController, 'idle'>;
  tiers: IdleTiers;
  logger: Logger;
}

export class IdleReaper {
  private readonly options: IdleReaperOptions;
  /** The last idle-tier changes made (bounded; `total` counts all). */
  readonly actions = new RecentLog<{ tenantId: string; event: LifecycleEvent }>();

  constructor(options: IdleReaperOptions) {
    validateIdleTiers(options.tiers);
    this.options = options;
  }

  async runOnce(now = Date.now()): Promise<void> {
    const { view, epochs, controller, tiers } = this.options;
    const [runtimes, activity] = await Promise.all([view.list(), epochs.activity()]);
    for (const info of runtimes) {
      // Never called through a router yet: count from the container's creation.
      const last = activity.get(info.tenantId) ?? Date.parse(info.createdAt ?? new Date(now).toISOString());
      const event = idleEvent(observedState(info), now - last, tiers);
      if (!event) continue;
      let changed: boolean;
      try {
        changed = await controller.idle(info.tenantId, {
          event,
          runtimeId: info.runtimeId,
          // The last word: only if no router recorded a call since the cutoff.
          quietSinceMs: now - tiers.pauseAfterMs,
        });
      } catch (error) {
        // One tenant's failure (its own doing, even: a directory planted where its secrets file
        // goes) is that tenant's: the tenants after it in the pass are still paused and stopped.
        this.options.logger.warn({ tenant: info.tenantId, event, err: error }, 'idle tier failed');
        continue;
      }
      if (!changed) continue;
      this.actions.push({ tenantId: info.tenantId, event });
      this.options.logger.info({ tenant: info.tenantId, event, idleMs: now - last }, 'idle tier');
    }
  }
}
