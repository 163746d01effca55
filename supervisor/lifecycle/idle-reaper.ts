// Idle tiers: running -> paused -> stopped -> removed (volume kept), after configurable idle times
// measured from the last call routers recorded (runtime-epochs.ts). Before changing a runtime's
// state the reaper bumps the tenant's epoch, atomically with a last check that the tenant is still
// idle, so routers stop trusting the old route before the container freezes or goes.
import type { Logger } from 'pino';
import type { RedisRuntimeEpochs } from '../client/runtime-epochs.ts';
import type { RuntimeInfo } from '../runtime/runtime-driver.ts';
import type { RuntimeManager } from './runtime-manager.ts';
import { observedState, transition, type LifecycleEvent } from './lifecycle-state.ts';
import { RecentLog } from './recent-log.ts';

export interface IdleTiers {
  pauseAfterMs: number;
  stopAfterMs: number;
  removeAfterMs: number;
}

export function validateIdleTiers(tiers: IdleTiers): IdleTiers {
  if (!(
    tiers.pauseAfterMs > 0 &&
    tiers.pauseAfterMs <= tiers.stopAfterMs &&
    tiers.stopAfterMs <= tiers.removeAfterMs
  ))
    throw new Error('idle tiers must satisfy 0 < pauseAfterMs <= stopAfterMs <= removeAfterMs');
  return tiers;
}

export class IdleReaper {
  private readonly options: {
    manager: RuntimeManager;
    epochs: RedisRuntimeEpochs;
    tiers: IdleTiers;
    logger: Logger;
  };
  /** The last idle-tier changes made (bounded; `total` counts all). */
  readonly actions = new RecentLog<{ tenantId: string; event: LifecycleEvent }>();

  constructor(options: {
    manager: RuntimeManager;
    epochs: RedisRuntimeEpochs;
    tiers: IdleTiers;
    logger: Logger;
  }) {
    validateIdleTiers(options.tiers);
    this.options = options;
  }

  async runOnce(now = Date.now()): Promise<void> {
    const { manager, epochs } = this.options;
    const [runtimes, activity] = await Promise.all([manager.driver.list(), epochs.activity()]);
    for (const info of runtimes) {
      // Never called through a router yet: count from the container's creation.
      const last = activity.get(info.tenantId) ?? Date.parse(info.createdAt ?? new Date(now).toISOString());
      const event = this.tierFor(info, now - last);
      if (!event) continue;
      await manager.withTenant(info.tenantId, async () => {
        const current = await manager.driver.inspect(info.tenantId);
        if (!current || current.runtimeId !== info.runtimeId) return;
        const next = this.tierFor(current, now - last);
        if (!next) return;
        transition(observedState(current), next); // throws on an illegal change
        // The last word: only if no router recorded a call since the cutoff.
        if (!(await epochs.bumpIfIdle(info.tenantId, now - this.options.tiers.pauseAfterMs))) return;
        if (next === 'pause') await manager.driver.pause(info.tenantId);
        else if (next === 'stop') await manager.driver.stop(info.tenantId);
        else await manager.driver.remove(info.tenantId, { purgeData: false });
        this.actions.push({ tenantId: info.tenantId, event: next });
        this.options.logger.info({ tenant: info.tenantId, event: next, idleMs: now - last }, 'idle tier');
      });
    }
  }

  private tierFor(info: RuntimeInfo, idleMs: number): LifecycleEvent | undefined {
    const { tiers } = this.options;
    if (idleMs >= tiers.removeAfterMs) return 'reap';
    if (idleMs >= tiers.stopAfterMs && (info.state === 'running' || info.state === 'paused')) return 'stop';
    if (idleMs >= tiers.pauseAfterMs && info.state === 'running') return 'pause';
    return undefined;
  }
}
