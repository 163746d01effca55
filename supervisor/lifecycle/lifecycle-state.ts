// The written lifecycle state machine of one tenant runtime (docs/lifecycle.md). Every
// state change the supervisor makes goes through `transition`, so an impossible change (pausing a
// container that does not exist, waking a removed tenant without creating it) is an error, not a
// silent no-op. The tenant's data volume survives every state; only offboarding destroys it.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export const LIFECYCLE_STATES = [
  'absent', // no container (never created, or reaped): the volume may exist
  'creating', // volume, socket directory and container being made; waiting for health
  'running', // healthy, serving calls
  'paused', // frozen (cgroup freezer): keeps memory, wakes in tens of ms
  'stopped', // process ended (idle tier, crash or engine restart): wakes with a process start
  'unhealthy', // failed its health check, crashed or hit a limit: about to be recycled
  'recycling', // in-flight calls drain, then the old container goes and a fresh one is created
  'removed', // offboarded: container, volume and socket directory destroyed (terminal)
] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const LIFECYCLE_EVENTS = [
  'create', // a call needs the tenant and there is no container
  'ready', // the health check passed
  'fail', // creation, start or health check failed, or the process crashed
  'pause', // idle tier 1
  'stop', // idle tier 2, or the engine stopped it
  'reap', // idle tier 3: container removed, volume kept
  'wake', // a call arrived for a paused or stopped tenant
  'recycle', // spec change, maximum age or health failure
  'drained', // in-flight calls finished (or the drain deadline passed); old container removed
  'offboard', // the tenant is deleted with its data
] as const;
export type LifecycleEvent = (typeof LIFECYCLE_EVENTS)[number];

/** state -> event -> next state. Anything not listed is an illegal transition. */
export const TRANSITIONS: Readonly<Record<LifecycleState, Partial<Record<LifecycleEvent, LifecycleState>>>> =
  {
    absent: { create: 'creating', offboard: 'removed' },
    creating: { ready: 'running', fail: 'unhealthy', offboard: 'removed' },
    running: {
      pause: 'paused',
      stop: 'stopped',
      fail: 'unhealthy',
      recycle: 'recycling',
      reap: 'absent',
      offboard: 'removed',
    },
    paused: { wake: 'running', stop: 'stopped', reap: 'absent', recycle: 'recycling', offboard: 'removed' },
    stopped: {
      wake: 'creating',
      reap: 'absent',
      recycle: 'recycling',
      fail: 'unhealthy',
      offboard: 'removed',
    },
    unhealthy: { recycle: 'recycling', reap: 'absent', offboard: 'removed' },
    recycling: { drained: 'absent', fail: 'unhealthy', offboard: 'removed' },
    removed: {},
  };

export class IllegalTransitionError extends BulkheadError<'illegal_transition'> {
  readonly from: LifecycleState;
  readonly event: LifecycleEvent;
  constructor(from: LifecycleState, event: LifecycleEvent) {
    super('illegal_transition', `illegal lifecycle transition: ${event} in state ${from}`, {
      details: { from, event },
    });
    this.from = from;
    this.event = event;
  }
}

/** Whether `event` is allowed in state `from` (a check that does not throw). */
export function allowed(from: LifecycleState, event: LifecycleEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}

export function transition(from: LifecycleState, event: LifecycleEvent): LifecycleState {
  const next = TRANSITIONS[from][event];
  if (!next) throw new IllegalTransitionError(from, event);
  return next;
}

/** Whether the tenant's data volume exists in this state: always, except after offboarding. */
export function volumeKept(state: LifecycleState): boolean {
  return state !== 'removed';
}

/** The lifecycle state a container observed on the engine corresponds to. */
export function observedState(
  container: { state: 'running' | 'paused' | 'stopped' | 'starting' | 'unknown' } | undefined,
): LifecycleState {
  if (!container) return 'absent';
  switch (container.state) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'stopped':
      return 'stopped';
    case 'starting':
      return 'creating';
    case 'unknown':
      return 'unhealthy';
  }
}
