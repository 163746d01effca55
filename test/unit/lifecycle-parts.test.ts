import { Agent, request } from 'undici';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { classifyCallFailure } from '../../router/dispatch/call-failure.ts';
import { CircuitOpenError, CrashBreaker } from '../../supervisor/lifecycle/crash-breaker.ts';
import { CreateLimiter } from '../../supervisor/lifecycle/create-limiter.ts';
import { epochAhead } from '../../supervisor/lifecycle/controller-parts.ts';
import { KeyedLock } from '../../kernel/process/keyed-lock.ts';
import { RecentLog } from '../../supervisor/lifecycle/recent-log.ts';
import { pidsLimitReached } from '../../supervisor/lifecycle/health-monitor.ts';
import { idleEvent, verdictOf } from '../../supervisor/lifecycle/observation-policy.ts';
import type { RuntimeInfo } from '../../supervisor/runtime/runtime-driver.ts';
import { tenantRecord } from '../support/tenant.ts';

describe('CrashBreaker', () => {
  const a = tenantRecord('tenant-a');
  let ends = 0;
  /** Each end a runtime of its own (container and exit time): counted once each. */
  const nextEnd = (): string => `runtime-${++ends}:exit`;

  it('opens after the threshold, doubles the backoff, and closes on success', async () => {
    let now = 0;
    const breaker = new CrashBreaker({
      threshold: 3,
      baseBackoffMs: 1_000,
      maxBackoffMs: 4_000,
      now: () => now,
    });
    expect(await breaker.failure(a)).toBe(0);
    expect(await breaker.failure(a)).toBe(0);
    expect(() => breaker.check(a)).not.toThrow();
    expect(await breaker.failure(a)).toBe(1_000);
    expect(() => breaker.check(a)).toThrow(CircuitOpenError);
    expect(await breaker.failure(a)).toBe(2_000);
    expect(await breaker.failure(a)).toBe(4_000);
    expect(await breaker.failure(a)).toBe(4_000);
    now += 3_000;
    const error = (() => {
      try {
        breaker.check(a);
      } catch (e) {
        return e as CircuitOpenError;
      }
      return undefined;
    })();
    expect(error?.retryAfterMs).toBe(1_000);
    expect(breaker.isOpen(tenantRecord('tenant-b'))).toBe(false);
    await breaker.success(a);
    expect(() => breaker.check(a)).not.toThrow();
  });

  it('keeps the crashes of runtimes that had come up across a start that comes up, not the failed starts', async () => {
    let now = 0;
    const breaker = new CrashBreaker({
      threshold: 3,
      windowMs: 60_000,
      baseBackoffMs: 1_000,
      now: () => now,
    });
    await breaker.failure(a);
    await breaker.failure(a);
    await breaker.success(a);
    expect(await breaker.failure(a)).toBe(0);
    await breaker.success(a);
    await breaker.crash(a, nextEnd());
    await breaker.success(a);
    expect(await breaker.crash(a, nextEnd())).toBe(0);
    await breaker.success(a);
    // Three ends in the window, each after a start that came up: a crash loop.
    expect(await breaker.crash(a, nextEnd())).toBe(1_000);
    expect(() => breaker.check(a)).toThrow(CircuitOpenError);
    now += 1_000;
    await breaker.success(a);
    expect(await breaker.crash(a, nextEnd())).toBe(2_000);
    // Out of the window, they are forgotten; offboarding forgets them at once.
    now += 60_000;
    expect(await breaker.crash(a, nextEnd())).toBe(0);
    await breaker.forget(a.id);
    expect(breaker.isOpen(a)).toBe(false);
  });

  it('forgets failures outside the window', async () => {
    let now = 0;
    const breaker = new CrashBreaker({ threshold: 2, windowMs: 1_000, now: () => now });
    await breaker.failure(a);
    now += 2_000;
    expect(await breaker.failure(a)).toBe(0);
  });
});

describe('epochAhead', () => {
  const epochs = (current: () => Promise<number>) => ({ current, bump: noop, bumpIfIdle: noop });
  const noop = () => Promise.reject(new Error('not asked here'));

  it("reads the tenant's epoch, and 0 where no epochs are kept", async () => {
    expect(
      await epochAhead(
        epochs(() => Promise.resolve(7)),
        'tenant-a',
      ),
    ).toBe(7);
    expect(await epochAhead(undefined, 'tenant-a')).toBe(0);
  });

  it('leaves a failed read that nobody awaited no unhandled rejection (vitest fails the run on one)', async () => {
    const epoch = epochAhead(
      epochs(() => Promise.reject(new Error('redis gone'))),
      'tenant-a',
    );
    await new Promise((resolve) => setImmediate(resolve));
    await expect(epoch).rejects.toThrow('redis gone');
  });
});

describe('CreateLimiter', () => {
  it('never admits more than the limit at once and queues the rest', async () => {
    const limiter = new CreateLimiter(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        limiter.run(async () => {
          active += 1;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setTimeout(resolve, 5));
          active -= 1;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(limiter.maxInFlight).toBe(3);
    expect(limiter.admitted).toBe(20);
    expect(limiter.inFlight).toBe(0);
  });
});

describe('KeyedLock', () => {
  it('serialises work per key, also after a failure', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const slow = lock.run('a', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('a1');
      throw new Error('boom');
    });
    const next = lock.run('a', () => Promise.resolve(order.push('a2')));
    const other = lock.run('b', () => Promise.resolve(order.push('b1')));
    await expect(slow).rejects.toThrow('boom');
    await Promise.all([next, other]);
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });
});

describe('classifyCallFailure', () => {
  const withCause = (code: string): Error =>
    Object.assign(new TypeError('fetch failed'), { cause: { code } });
  it('retries only what never reached the container', () => {
    expect(classifyCallFailure(withCause('ECONNREFUSED'))).toBe('not_delivered');
    expect(classifyCallFailure(withCause('ENOENT'))).toBe('not_delivered');
    // A write refused by a connection the runtime had closed: none of it was sent.
    expect(classifyCallFailure(withCause('EPIPE'))).toBe('not_delivered');
    expect(classifyCallFailure(withCause('ECONNRESET'))).toBe('interrupted');
    expect(classifyCallFailure(withCause('UND_ERR_SOCKET'))).toBe('interrupted');
    expect(classifyCallFailure(new Error('validation went wrong'))).toBe('other');
  });

  it('takes a request refused by a closed or closing agent for one never sent', async () => {
    // undici's own errors: a route's agent closed by a call that renewed the route.
    const closing = new Agent();
    const closed = new Agent();
    void closing.close();
    await closed.close();
    for (const agent of [closing, closed]) {
      const error: unknown = await request('http://127.0.0.1:9/', { dispatcher: agent }).catch(
        (e: unknown) => e,
      );
      expect(classifyCallFailure(error)).toBe('not_delivered');
    }
  });

  it("takes a JSON-RPC error answer for an answer, whatever its text (a pack's own words)", () => {
    const answer = new ProtocolError(ProtocolErrorCode.InternalError, 'fetch failed');
    expect(classifyCallFailure(answer)).toBe('other');
  });
});

describe('RecentLog', () => {
  it('keeps the last entries only, oldest first, and counts every one', () => {
    const log = new RecentLog<number>(3);
    for (let i = 1; i <= 1000; i++) log.push(i);
    expect(log.entries).toEqual([998, 999, 1000]);
    expect(log.total).toBe(1000);
  });

  it('refuses a capacity that would keep nothing', () => {
    expect(() => new RecentLog(0)).toThrow(/at least one/);
  });
});

describe('pidsLimitReached', () => {
  const usage = {
    memoryBytes: 0,
    memoryLimitBytes: 0,
    memoryPeakBytes: 0,
    cpuSeconds: 0,
    cpuThrottledSeconds: 0,
    pidsLimit: 64,
  };
  it.each([
    [{ pids: 12, pidsRefused: 1 }, true], // a refused fork, whatever the count is now
    [{ pids: 12, pidsRefused: 0 }, false],
    [{ pids: 63, pidsRefused: 0 }, true], // the share, as a fallback even with the counter
    [{ pids: 39, pidsRefused: undefined }, true], // no counter: 60 % of 64 is 38.4
    [{ pids: 38, pidsRefused: undefined }, false],
  ])('%o -> %s', (pids, reached) => {
    expect(pidsLimitReached({ ...usage, ...pids })).toBe(reached);
  });
});

describe('observation policy', () => {
  const info: RuntimeInfo = {
    tenantId: 'acme',
    runtimeId: 'r1',
    state: 'running',
    specHash: 'h',
    generation: 1,
    endpoint: { kind: 'unix', socketPath: '/x', uid: 1 },
    image: 'i',
  };
  it('names the reason of each recycle as operators and tests read it', () => {
    const crashed = {
      ...info,
      state: 'stopped' as const,
      exit: { code: 137, oomKilled: false, finishedAt: '' },
    };
    expect(verdictOf({ kind: 'crashed', info: crashed }, 0, 2).recycle).toEqual({
      reason: 'crashed (exit 137)',
      failed: true,
    });
    expect(verdictOf({ kind: 'spec-changed', info }, 0, 2).recycle).toEqual({
      reason: 'spec changed',
      failed: false,
    });
    expect(verdictOf({ kind: 'max-age', info }, 0, 2).recycle?.reason).toBe('maximum age');
    expect(verdictOf({ kind: 'probe', info, health: 'tampered' }, 0, 2).recycle?.reason).toBe(
      'socket tampered with',
    );
    expect(verdictOf({ kind: 'socket-dir-missing', info }, 0, 2).recycle?.reason).toBe(
      'socket directory missing',
    );
  });

  it('recycles after the configured failed probes in a row; a healthy probe resets the count', () => {
    expect(verdictOf({ kind: 'probe', info, health: 'unhealthy' }, 0, 2)).toEqual({ failures: 1 });
    expect(verdictOf({ kind: 'probe', info, health: 'unhealthy' }, 1, 2).recycle?.reason).toBe(
      'failed 2 health checks',
    );
    expect(verdictOf({ kind: 'probe', info, health: 'healthy' }, 1, 2)).toEqual({ failures: 0 });
  });

  it('picks the idle tier from the state and the idle time', () => {
    const tiers = { pauseAfterMs: 10, stopAfterMs: 20, removeAfterMs: 30 };
    expect(idleEvent('running', 9, tiers)).toBeUndefined();
    expect(idleEvent('running', 10, tiers)).toBe('pause');
    expect(idleEvent('paused', 10, tiers)).toBeUndefined();
    expect(idleEvent('paused', 20, tiers)).toBe('stop');
    expect(idleEvent('stopped', 20, tiers)).toBeUndefined();
    expect(idleEvent('stopped', 30, tiers)).toBe('reap');
  });
});
