// Whether a request's client is the only one the router hears from (router/http/connection-activity.ts):
// a connection alone, or back to back on its own, is quiet; another connection's request within the
// window makes it one among others, whichever of the two asks, until the window has passed.
import { describe, expect, it } from 'vitest';
import { ConnectionActivity, QUIET_MS } from '../../router/http/connection-activity.ts';

describe('ConnectionActivity', () => {
  it('is quiet for one connection, back to back, and for the first request ever', () => {
    const activity = new ConnectionActivity();
    const a = {};
    expect(activity.quietBut(a, 0)).toBe(true);
    for (let at = 0; at < 10; at++) {
      activity.arrived(a, at);
      expect(activity.quietBut(a, at + 0.5)).toBe(true);
    }
  });

  it('is not quiet within the window of another connection’s request, for either, and is after it', () => {
    const activity = new ConnectionActivity();
    const [a, b] = [{}, {}];
    activity.arrived(a, 100);
    activity.arrived(b, 101);
    expect(activity.quietBut(b, 102)).toBe(false);
    expect(activity.quietBut(a, 102)).toBe(false);
    // a again: b's request, the latest of another connection, is what a is measured against.
    activity.arrived(a, 103);
    expect(activity.quietBut(a, 101 + QUIET_MS)).toBe(false);
    expect(activity.quietBut(a, 101 + QUIET_MS + 1)).toBe(true);
    expect(activity.quietBut(b, 103 + QUIET_MS + 1)).toBe(true);
  });

  it('takes its window from its options', () => {
    const activity = new ConnectionActivity({ quietMs: 60_000 });
    const [a, b] = [{}, {}];
    activity.arrived(a, 0);
    activity.arrived(b, 1);
    expect(activity.quietBut(b, 59_000)).toBe(false);
    expect(activity.quietBut(b, 60_002)).toBe(true);
  });

  it('answers its signal with the time it is asked at', () => {
    const activity = new ConnectionActivity({ quietMs: 60_000 });
    const [a, b] = [{}, {}];
    const alone = activity.signalFor(a);
    activity.arrived(a);
    expect(alone()).toBe(true);
    activity.arrived(b);
    expect(alone()).toBe(false);
  });
});
