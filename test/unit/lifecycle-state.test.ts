import { describe, expect, it } from 'vitest';
import {
  IllegalTransitionError,
  LIFECYCLE_EVENTS,
  LIFECYCLE_STATES,
  TRANSITIONS,
  transition,
  volumeKept,
  type LifecycleState,
} from '../../supervisor/lifecycle/lifecycle-state.ts';

describe('runtime lifecycle state machine', () => {
  it('walks the idle tiers down and wakes from each of them', () => {
    expect(transition('absent', 'create')).toBe('creating');
    expect(transition('creating', 'ready')).toBe('running');
    expect(transition('running', 'pause')).toBe('paused');
    expect(transition('paused', 'wake')).toBe('running');
    expect(transition('paused', 'stop')).toBe('stopped');
    expect(transition('stopped', 'wake')).toBe('creating');
    expect(transition('stopped', 'reap')).toBe('absent');
  });

  it('recycles an unhealthy runtime through a drain', () => {
    expect(transition('running', 'fail')).toBe('unhealthy');
    expect(transition('unhealthy', 'recycle')).toBe('recycling');
    expect(transition('recycling', 'drained')).toBe('absent');
  });

  it('refuses impossible transitions', () => {
    expect(() => transition('absent', 'pause')).toThrow(IllegalTransitionError);
    expect(() => transition('removed', 'create')).toThrow(IllegalTransitionError);
    expect(() => transition('unhealthy', 'wake')).toThrow(IllegalTransitionError);
  });

  it('keeps the volume in every state but removed, and removed is terminal', () => {
    const kept = LIFECYCLE_STATES.filter((s) => volumeKept(s));
    expect(kept).toEqual(LIFECYCLE_STATES.filter((s) => s !== 'removed'));
    expect(Object.keys(TRANSITIONS.removed)).toEqual([]);
  });

  it('can reach every state from absent and offboard from every live state', () => {
    const seen = new Set<LifecycleState>(['absent']);
    for (let changed = true; changed;) {
      changed = false;
      for (const from of [...seen])
        for (const event of LIFECYCLE_EVENTS) {
          const next = TRANSITIONS[from][event];
          if (next && !seen.has(next)) {
            seen.add(next);
            changed = true;
          }
        }
    }
    expect([...seen].sort()).toEqual([...LIFECYCLE_STATES].sort());
    for (const state of LIFECYCLE_STATES.filter((s) => s !== 'removed'))
      expect(transition(state, 'offboard')).toBe('removed');
  });
});
