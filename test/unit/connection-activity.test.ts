// Whether a request's client is the only one the router hears from (router/http/connection-activity.ts):
// requests one at a time are alone, on one connection or on several; a request while another
// connection's is in progress is not, and neither is any request within the window after two were
// in progress together; a request in progress for longer than the window no longer counts.
import { describe, expect, it } from 'vitest';
import { ConnectionActivity, QUIET_MS } from '../../router/http/connection-activity.ts';

describe('ConnectionActivity', () => {
  it('is quiet for one connection, back to back, and for the first request ever', () => {
    const activity = new ConnectionActivity();
    const a = {};
    expect(activity.quietBut(a, 0)).toBe(true);
    for (let at = 0; at < 10; at++) {
      const done = activity.arrived(a, at);
      expect(activity.quietBut(a, at + 0.5)).toBe(true);
      done();
    }
  });

  it('is quiet for requests one at a time on connections that take turns, or a new one each time', () => {
    const activity = new ConnectionActivity();
    const connections = [{}, {}, {}, {}, {}];
    for (let at = 0; at < 10; at++) {
      const connection = connections[at % connections.length]!;
      const done = activity.arrived(connection, at);
      expect(activity.quietBut(connection, at + 0.5)).toBe(true);
      done();
    }
  });

  it('is not quiet while another connection’s request is in progress, for either', () => {
    const activity = new ConnectionActivity();
    const [a, b] = [{}, {}];
    activity.arrived(a, 100);
    expect(activity.quietBut(a, 100.5)).toBe(true);
    activity.arrived(b, 101);
    expect(activity.quietBut(b, 102)).toBe(false);
    expect(activity.quietBut(a, 102)).toBe(false);
  });

  it('is not quiet within the window after two requests were in progress together, and is after it', () => {
    const activity = new ConnectionActivity();
    const [a, b] = [{}, {}];
    const doneA = activity.arrived(a, 100);
    const doneB = activity.arrived(b, 101);
    doneA();
    doneB();
    // Neither is in progress now; b came while a was, at 101.
    activity.arrived(a, 103);
    expect(activity.quietBut(a, 101 + QUIET_MS)).toBe(false);
    expect(activity.quietBut(a, 101 + QUIET_MS + 1)).toBe(true);
  });

  it('stops counting a request in progress for longer than the window (a stream left open)', () => {
    const activity = new ConnectionActivity();
    const [stream, calls] = [{}, {}];
    activity.arrived(stream, 0);
    const done = activity.arrived(calls, QUIET_MS + 1);
    expect(activity.quietBut(calls, QUIET_MS + 2)).toBe(true);
    done();
  });

  it('ends a connection’s request only, not a later one that replaced it on the same connection', () => {
    const activity = new ConnectionActivity();
    const [a, b] = [{}, {}];
    const first = activity.arrived(a, 0);
    activity.arrived(a, 1);
    first();
    // a's second request is still in progress: b's is not alone.
    activity.arrived(b, 2);
    expect(activity.quietBut(b, 3)).toBe(false);
  });

  it('takes its window from its options', () => {
    const activity = new ConnectionActivity({ quietMs: 60_000 });
    const [a, b] = [{}, {}];
    const done = activity.arrived(a, 0);
    activity.arrived(b, 1);
    done();
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
