// The pure rules from what an observer saw to what the lifecycle controller does about it: which
// facts make a runtime due for a recycle (and with which reason: integration tests and operators
// read these strings), which idle tier applies, and what counts as a crash. No I/O here: the
// observers gather the facts, the controller applies the verdict through the state machine.
import type { OwnedRuntime, RuntimeInfo, RuntimeUsage } from '../runtime/runtime-driver.ts';
import type { LifecycleEvent, LifecycleState } from './lifecycle-state.ts';

/** What a health probe of a runtime found. */
export type Health = 'healthy' | 'unhealthy' | 'tampered';

export type LimitReason = 'out of memory' | 'PIDs limit reached' | 'memory limit reached';

/** One fact about one runtime, as an observer (health pass, reconciliation) reports it. */
export type Observation =
  | { kind: 'crashed'; info: RuntimeInfo }
  | { kind: 'limit'; info: RuntimeInfo; reason: LimitReason }
  | { kind: 'spec-changed'; info: RuntimeInfo }
  | { kind: 'max-age'; info: RuntimeInfo }
  | { kind: 'probe'; info: RuntimeInfo; health: Health }
  | { kind: 'socket-dir-missing'; info: RuntimeInfo }
  | { kind: 'stray'; owned: OwnedRuntime; why: 'orphan' | 'duplicate' | 'helper' };

export type RuntimeObservation = Exclude<Observation, { kind: 'stray' }>;

/**
 * What the controller did about an observation. `error`: the act was started and threw (a
 * replacement that did not come up); it is logged where it happened.
 */
export type Decision =
  { acted: false; why?: string } | { acted: true; event: LifecycleEvent; reason: string; error?: unknown };

/** What an observation calls for: a recycle (after marking the runtime failed, or not) or nothing. */
export interface Verdict {
  /** Consecutive failed probes after this observation (0 once healthy or recycled). */
  failures: number;
  recycle?: { reason: string; failed: boolean };
}

/**
 * A process end that no stop explains, judged from the exit alone: killed, crashed or stopped by a
 * limit. 0 and 143 (SIGTERM) are how a stop we or the engine asked for ends, but a runtime can also
 * end itself so: the controller, which knows which runtimes it asked to stop, counts those it did
 * not as crashes too (FailureLedger.endedUnasked, controller-parts.ts).
 */
export function isCrash(info: RuntimeInfo | undefined): boolean {
  if (!info?.exit || info.state !== 'stopped') return false;
  return info.exit.oomKilled || (info.exit.code !== 0 && info.exit.code !== 143);
}

/**
 * The share of the PIDs limit at which a runtime counts as fork-bombed when the driver cannot say
 * whether a fork was refused. An idle runtime uses about 12 of 64; a bomb swings below the limit
 * (a process that cannot fork exits), plateauing here at 44-58 of 64, lower on a loaded machine.
 */
export const PIDS_SATURATION = 0.6;

/** A fork refused at the limit (a counter: no sample can miss it), else the share above. */
export function pidsLimitReached(usage: RuntimeUsage): boolean {
  if (usage.pidsRefused !== undefined && usage.pidsRefused > 0) return true;
  return usage.pidsLimit > 0 && usage.pids >= PIDS_SATURATION * usage.pidsLimit;
}

/** The limit a running runtime hit, judged from its usage, if any. */
export function limitReached(usage: RuntimeUsage): LimitReason | undefined {
  if (pidsLimitReached(usage)) return 'PIDs limit reached';
  // The cgroup hit its memory limit, so the OOM killer ran inside: the survivor may be damaged.
  if (usage.memoryLimitBytes > 0 && usage.memoryPeakBytes >= usage.memoryLimitBytes)
    return 'memory limit reached';
  return undefined;
}

/** Whether a runtime created at `createdAt` (ISO) is older than `maxAgeMs` at `now`. */
export function overAge(createdAt: string | undefined, maxAgeMs: number | undefined, now: number): boolean {
  return maxAgeMs !== undefined && now - Date.parse(createdAt ?? '') > maxAgeMs;
}

/**
 * The verdict on one observation of a tenant's runtime, given the failed probes counted so far.
 * A broken runtime (crash, limit, tampered or vanished socket, failed probes) is marked failed
 * before its recycle; a spec change or maximum age recycles a healthy one.
 */
export function verdictOf(o: RuntimeObservation, failures: number, failuresBeforeRecycle: number): Verdict {
  const recycle = (reason: string, failed: boolean): Verdict => ({
    failures: 0,
    recycle: { reason, failed },
  });
  switch (o.kind) {
    case 'crashed':
      return recycle(o.info.exit?.oomKilled ? 'out of memory' : `crashed (exit ${o.info.exit?.code})`, true);
    case 'limit':
      return recycle(o.reason, true);
    case 'spec-changed':
      return recycle('spec changed', false);
    case 'max-age':
      return recycle('maximum age', false);
    case 'socket-dir-missing':
      return recycle('socket directory missing', true);
    case 'probe': {
      if (o.health === 'tampered') return recycle('socket tampered with', true);
      if (o.health === 'healthy') return { failures: 0 };
      const count = failures + 1;
      return count >= failuresBeforeRecycle
        ? recycle(`failed ${count} health checks`, true)
        : { failures: count };
    }
  }
}

export interface IdleTiers {
  pauseAfterMs: number;
  stopAfterMs: number;
  removeAfterMs: number;
}

/** The idle tier a runtime in `state`, idle for `idleMs`, is due for (reap keeps the volume). */
export function idleEvent(
  state: LifecycleState,
  idleMs: number,
  tiers: IdleTiers,
): 'pause' | 'stop' | 'reap' | undefined {
  if (idleMs >= tiers.removeAfterMs) return 'reap';
  if (idleMs >= tiers.stopAfterMs && (state === 'running' || state === 'paused')) return 'stop';
  if (idleMs >= tiers.pauseAfterMs && state === 'running') return 'pause';
  return undefined;
}
