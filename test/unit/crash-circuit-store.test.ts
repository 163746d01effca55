// The crash circuit with a store (crash-breaker.ts): a breaker that loads what the one before it
// wrote goes on backing off; it writes on the failure path only; a tenant onboarded again under
// the same id starts with a closed circuit. The store here is a fake of the project's own port;
// test/integration/crash-circuit-restart.test.ts runs the Redis one under a restarted supervisor.
import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  CrashBreaker,
  type CircuitRecord,
  type CircuitStore,
  type CircuitTenant,
} from '../../supervisor/lifecycle/crash-breaker.ts';
import { tenantRecord } from '../support/tenant.ts';

class MemoryStore implements CircuitStore {
  readonly records = new Map<string, { record: CircuitRecord; ttlMs: number }>();
  writes = 0;

  load(tenants: readonly CircuitTenant[]): Promise<Map<string, CircuitRecord>> {
    const found = new Map<string, CircuitRecord>();
    for (const tenant of tenants) {
      const kept = this.records.get(placeOf(tenant));
      if (kept) found.set(tenant.id, structuredClone(kept.record));
    }
    return Promise.resolve(found);
  }

  save(tenant: CircuitTenant, record: CircuitRecord, ttlMs: number): Promise<void> {
    this.writes++;
    this.records.set(placeOf(tenant), { record: structuredClone(record), ttlMs });
    return Promise.resolve();
  }

  remove(tenant: CircuitTenant): Promise<void> {
    this.writes++;
    this.records.delete(placeOf(tenant));
    return Promise.resolve();
  }
}

const placeOf = (tenant: CircuitTenant): string => `${tenant.id}:${tenant.createdAt}`;

function retryAfter(breaker: CrashBreaker, tenant: CircuitTenant): number | undefined {
  try {
    breaker.check(tenant);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(CircuitOpenError);
    return (error as CircuitOpenError).retryAfterMs;
  }
}

const options = { threshold: 3, windowMs: 60_000, baseBackoffMs: 1_000, maxBackoffMs: 30_000 };

describe('CrashBreaker with a store', () => {
  it('goes on backing off in a breaker that loads what the one before it wrote', async () => {
    let now = 1_000_000;
    const store = new MemoryStore();
    const acme = tenantRecord('acme');
    const first = new CrashBreaker({ ...options, now: () => now, store });
    for (let i = 0; i < 4; i++) await first.failure(acme);
    expect(retryAfter(first, acme)).toBe(2_000);
    now += 500;
    // A restarted supervisor: a breaker of its own, loaded before it takes work.
    const second = new CrashBreaker({ ...options, now: () => now, store });
    expect(retryAfter(second, acme)).toBeUndefined();
    await second.load([acme]);
    expect(retryAfter(second, acme)).toBe(1_500);
    // And its next failure doubles the backoff, as the first breaker's would have.
    now += 1_500;
    expect(await second.failure(acme)).toBe(4_000);
    // A start that comes up closes it for a third breaker too.
    await second.success(acme);
    const third = new CrashBreaker({ ...options, now: () => now, store });
    await third.load([acme]);
    expect(retryAfter(third, acme)).toBeUndefined();
    expect(await third.failure(acme)).toBe(0);
  });

  it('keeps the ends of runtimes that had come up across a restart, not only the failed starts', async () => {
    let now = 1_000_000;
    const store = new MemoryStore();
    const acme = tenantRecord('acme');
    const first = new CrashBreaker({ ...options, now: () => now, store });
    await first.crash(acme, 'runtime-1:exit');
    await first.success(acme);
    await first.crash(acme, 'runtime-2:exit');
    now += 1_000;
    const second = new CrashBreaker({ ...options, now: () => now, store });
    await second.load([acme]);
    // The end the first one counted last, found again by the second: not counted twice.
    expect(await second.crash(acme, 'runtime-2:exit')).toBe(0);
    // The third end in the window opens the circuit, whichever process counted the first two.
    expect(await second.crash(acme, 'runtime-3:exit')).toBe(1_000);
  });

  it('does not count the exit of a failed start again after a restart', async () => {
    const now = 1_000_000;
    const store = new MemoryStore();
    const acme = tenantRecord('acme');
    const first = new CrashBreaker({ ...options, now: () => now, store });
    for (let i = 1; i <= 3; i++) await first.failure(acme, `runtime-${i}:exit`);
    const second = new CrashBreaker({ ...options, now: () => now, store });
    await second.load([acme]);
    // The restarted supervisor inspects the last failed start's container, exited: already counted.
    expect(await second.crash(acme, 'runtime-3:exit')).toBe(0);
    expect(retryAfter(second, acme)).toBe(1_000);
  });

  it('writes on the failure path only, kept no longer than the window or the backoff', async () => {
    let now = 1_000_000;
    const store = new MemoryStore();
    const acme = tenantRecord('acme');
    const breaker = new CrashBreaker({ ...options, now: () => now, store });
    // Starts that come up with nothing to forget write nothing.
    await breaker.success(acme);
    await breaker.success(acme);
    expect(store.writes).toBe(0);
    // One write per failure, one to forget the failed starts once one comes up, then none again.
    await breaker.failure(acme);
    expect(store.writes).toBe(1);
    await breaker.success(acme);
    expect(store.writes).toBe(2);
    expect(store.records.size).toBe(0);
    await breaker.success(acme);
    expect(store.writes).toBe(2);
    for (let i = 0; i < 12; i++) {
      now += 100;
      await breaker.failure(acme);
    }
    const ttls = [...store.records.values()].map((kept) => kept.ttlMs);
    expect(ttls).toHaveLength(1);
    expect(ttls[0]).toBeLessThanOrEqual(Math.max(options.windowMs, options.maxBackoffMs));
    expect(ttls[0]).toBeGreaterThan(0);
  });

  it('starts a tenant onboarded again under the same id with a closed circuit', async () => {
    let now = 1_000_000;
    const store = new MemoryStore();
    const earlier = tenantRecord('acme', { createdAt: new Date(now - 60_000).toISOString() });
    const breaker = new CrashBreaker({ ...options, now: () => now, store });
    for (let i = 0; i < 3; i++) await breaker.failure(earlier);
    expect(retryAfter(breaker, earlier)).toBe(1_000);
    const again = tenantRecord('acme', { createdAt: new Date(now).toISOString() });
    expect(retryAfter(breaker, again)).toBeUndefined();
    expect(await breaker.failure(again)).toBe(0);
    // Nor does a restarted supervisor load the earlier tenant's circuit for it.
    now += 100;
    const restarted = new CrashBreaker({ ...options, now: () => now, store });
    await restarted.load([{ id: 'acme', createdAt: again.createdAt }]);
    expect(retryAfter(restarted, again)).toBeUndefined();
    expect(await restarted.failure(again)).toBe(0);
    expect(await restarted.failure(again)).toBe(1_000);
  });
});
