import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RuntimeSocketTamperedError } from '../../supervisor/client/runtime-socket.ts';
import type { TamperRecorder } from '../../supervisor/client/socket-tamper.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { CircuitOpenError, CrashBreaker } from '../../supervisor/lifecycle/crash-breaker.ts';
import { RuntimeController, TenantSuspendedError } from '../../supervisor/lifecycle/runtime-controller.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { tenantRecord } from '../support/tenant.ts';
import { lifecycleSettings, memoryController } from '../support/lifecycle-settings.ts';

function tenant(id: string, status: TenantRecord['status'] = 'active'): TenantRecord {
  return tenantRecord(id, { status });
}

function manager(driver: MemoryDriver, healthy = true): RuntimeController {
  return new RuntimeController({
    driver,
    image: 'bulkhead/runtime:test',
    routerPublicKey: 'PEM',
    logger: pino({ level: 'silent' }),
    probe: () => Promise.resolve(healthy),
    settings: lifecycleSettings({ healthTimeoutMs: 50 }),
  });
}

describe('RuntimeController', () => {
  it('turns twenty concurrent ensures for one tenant into one driver call', async () => {
    const driver = new MemoryDriver(20);
    const runtimes = manager(driver);
    const endpoints = await Promise.all(Array.from({ length: 20 }, () => runtimes.ensure(tenant('acme'))));
    expect(new Set(endpoints.map((e) => JSON.stringify(e))).size).toBe(1);
    expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(1);
    expect(driver.runtimes.size).toBe(1);
  });

  it('prepares the socket directory once per cold start, before the create, and tells the driver so', async () => {
    const driver = new MemoryDriver();
    await manager(driver).ensure(tenant('acme'));
    const ops = driver.calls.map((c) => c.op).filter((op) => op === 'prepareSocketDir' || op === 'ensure');
    expect(ops).toEqual(['prepareSocketDir', 'ensure']);
  });

  it('ensures different tenants independently', async () => {
    const driver = new MemoryDriver();
    const runtimes = manager(driver);
    await Promise.all([runtimes.ensure(tenant('acme')), runtimes.ensure(tenant('globex'))]);
    expect([...driver.runtimes.keys()].sort()).toEqual(['acme', 'globex']);
  });

  it('refuses a suspended tenant without touching the driver', async () => {
    const driver = new MemoryDriver();
    await expect(manager(driver).ensure(tenant('acme', 'suspended'))).rejects.toBeInstanceOf(
      TenantSuspendedError,
    );
    expect(driver.calls).toEqual([]);
  });

  it('fails a runtime that never becomes healthy, and tries again on the next call', async () => {
    const driver = new MemoryDriver();
    const runtimes = manager(driver, false);
    await expect(runtimes.ensure(tenant('acme'))).rejects.toThrow(/did not become healthy/);
    await expect(runtimes.ensure(tenant('acme'))).rejects.toThrow(/did not become healthy/);
    expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(2);
  });

  it('replaces a running runtime whose socket was tampered with, and records the event', async () => {
    const driver = new MemoryDriver();
    const recorded: Parameters<TamperRecorder['record']>[] = [];
    let tampered = false;
    const runtimes = new RuntimeController({
      driver,
      image: 'bulkhead/runtime:test',
      routerPublicKey: 'PEM',
      logger: pino({ level: 'silent' }),
      probe: (endpoint) =>
        tampered && endpoint.kind === 'unix'
          ? Promise.reject(
              new RuntimeSocketTamperedError(endpoint, { kind: 'symlink', uid: endpoint.uid, gid: 0 }),
            )
          : Promise.resolve(true),
      settings: lifecycleSettings({ healthTimeoutMs: 50 }),
      tamper: {
        record: (...args) => {
          recorded.push(args);
          // The replacement's socket is the runtime's own again.
          tampered = false;
          return Promise.resolve();
        },
      },
    });
    const first = await runtimes.ensureRuntime(tenant('acme'));
    tampered = true;
    const second = await runtimes.ensureRuntime(tenant('acme'));
    expect(second.info.runtimeId).not.toBe(first.info.runtimeId);
    expect(recorded.map(([id, error, witness]) => [id, error.found.kind, witness])).toEqual([
      ['acme', 'symlink', 'supervisor-start'],
    ]);
  });

  it('does not bring back a runtime removed while an observation of it waited to act', async () => {
    const driver = new MemoryDriver(20);
    const runtimes = manager(driver);
    const acme = tenant('acme');
    await runtimes.ensure(acme);
    const observed = (await driver.inspect('acme'))!;
    // The reconciler saw its socket directory gone (the removal under way) and acts once it gets the
    // tenant's lock, after the removal.
    const removal = runtimes.remove('acme', false);
    const decision = await runtimes.observe({ kind: 'socket-dir-missing', info: observed }, acme);
    await removal;
    expect(decision).toMatchObject({ acted: false });
    expect(driver.runtimes.has('acme')).toBe(false);
    expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(1);
  });

  // A remove job taken in time whose asker (the control plane, waiting the job timeout) gave up
  // while it waited behind a bring-up for the tenant's lock: its asker was told it failed (an
  // offboarding keeps the record; an operator may resume the tenant), so it must not run then.
  it('refuses a remove whose asker gave up while it waited for the tenant’s lock', async () => {
    const driver = new MemoryDriver(150);
    const runtimes = manager(driver);
    const bringUp = runtimes.ensure(tenant('acme'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    let trailsEnded = 0;
    const first = () => Promise.resolve(void trailsEnded++);
    const removal = runtimes.remove('acme', true, { notAfterMs: Date.now() + 50, first });
    await bringUp;
    await expect(removal).rejects.toMatchObject({ code: 'runtime_failed' });
    expect(driver.runtimes.get('acme')?.state).toBe('running');
    expect(driver.volumes.has('acme')).toBe(true);
    // Nor was its audit trail ended: the tenant lives on (resumed, say) with it.
    expect(trailsEnded).toBe(0);
    // One still waited for runs, its trail ended first.
    await runtimes.remove('acme', true, { notAfterMs: Date.now() + 60_000, first });
    expect(trailsEnded).toBe(1);
    expect(driver.volumes.has('acme')).toBe(false);
  });

  // Its lock free at once, but what comes before its removal slow (the engine's inspect, the epoch's
  // Redis script): the asker's deadline passed meanwhile. Checked when the lock was taken, before
  // them, it ran after its asker gave up; checked last, right before the trail's end and the
  // removal, it is refused.
  it('refuses a remove whose asker gave up while its removal was being prepared', async () => {
    const driver = new MemoryDriver(100);
    const runtimes = manager(driver);
    await runtimes.ensure(tenant('acme'));
    let trailsEnded = 0;
    const first = () => Promise.resolve(void trailsEnded++);
    const removal = runtimes.remove('acme', true, { notAfterMs: Date.now() + 50, first });
    await expect(removal).rejects.toMatchObject({ code: 'runtime_failed' });
    expect(driver.calls.filter((c) => c.op === 'remove')).toHaveLength(0);
    expect(driver.volumes.has('acme')).toBe(true);
    expect(trailsEnded).toBe(0);
  });

  it('recycles the runtime it observed when that one is still the tenant’s', async () => {
    const driver = new MemoryDriver();
    const runtimes = manager(driver);
    const acme = tenant('acme');
    await runtimes.ensure(acme);
    const observed = (await driver.inspect('acme'))!;
    const decision = await runtimes.observe({ kind: 'socket-dir-missing', info: observed }, acme);
    expect(decision).toMatchObject({ acted: true, event: 'recycle' });
    const now = await driver.inspect('acme');
    expect(now?.runtimeId).toBeDefined();
    expect(now?.runtimeId).not.toBe(observed.runtimeId);
  });

  // A runtime that answers its first probe and then ends, every time: each call would start it
  // again (another tenant's engine work and create-cap slot) unless its ends count for the breaker.
  for (const code of [0, 143, 1])
    it(`backs off a runtime that comes up and then ends unasked, again and again (exit ${code})`, async () => {
      const driver = new MemoryDriver(1);
      // The default breaker: open at the third failure in 60 s.
      const runtimes = memoryController({ driver });
      // One record: the circuit is the tenant's record's (its id and creation time).
      const acme = tenant('acme');
      for (let i = 0; i < 3; i++) {
        await runtimes.ensure(acme);
        driver.crash('acme', code);
      }
      await expect(runtimes.ensure(acme)).rejects.toBeInstanceOf(CircuitOpenError);
      expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(3);
    });

  // A runtime that comes up and then breaks while running (here a fork bomb at its PIDs limit,
  // each time): every recycle would start another (engine work, a create-cap slot) unless the
  // breaks count for the breaker, and once it opens the broken one must not be left running.
  it('backs off a runtime that keeps reaching a limit, and removes the last one without a replacement', async () => {
    const driver = new MemoryDriver(1);
    const runtimes = memoryController({ driver });
    const acme = tenant('acme');
    await runtimes.ensure(acme);
    const decisions = [];
    for (let i = 0; i < 3; i++) {
      const info = (await driver.inspect('acme'))!;
      decisions.push(await runtimes.observe({ kind: 'limit', info, reason: 'PIDs limit reached' }, acme));
    }
    expect(decisions.map((d) => d.acted)).toEqual([true, true, true]);
    expect(runtimes.breaker.isOpen(acme)).toBe(true);
    // Two replacements, then the third broken runtime removed and none started in its place.
    expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(3);
    expect(driver.runtimes.has('acme')).toBe(false);
    await expect(runtimes.ensure(acme)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(3);
  });

  it('wakes a runtime the idle tier stopped on every next call, never backing off', async () => {
    const driver = new MemoryDriver(1);
    const runtimes = memoryController({ driver });
    for (let i = 0; i < 5; i++) {
      await runtimes.ensure(tenant('acme'));
      expect(await runtimes.idle('acme', { event: 'stop' })).toBe(true);
      // As the engine shows a stop the supervisor asked for: exit 0, the runtime's own drain.
      driver.crash('acme', 0);
    }
    const woken = await runtimes.ensureRuntime(tenant('acme'));
    // Woken in place every time: the one container, started again.
    expect(woken.info.runtimeId).toBe('mem-1');
    expect(driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(6);
  });

  it('takes a stopped runtime it did not bring up (a restarted supervisor) for a clean stop', async () => {
    const driver = new MemoryDriver(1);
    const acme = tenant('acme');
    await manager(driver).ensure(acme);
    driver.crash('acme', 0);
    // The next supervisor knows nothing of why it stopped: it wakes it, counting nothing.
    const breaker = new CrashBreaker({ threshold: 1 });
    await memoryController({ driver, breaker }).ensure(acme);
    expect(breaker.isOpen(acme)).toBe(false);
  });

  it('hands the idempotency window to the runtime explicitly, in its environment', () => {
    const runtimes = new RuntimeController({
      driver: new MemoryDriver(),
      image: 'bulkhead/runtime:test',
      routerPublicKey: 'PEM',
      logger: pino({ level: 'silent' }),
      settings: lifecycleSettings({ idempotencyWindowMs: 3_600_000 }),
    });
    expect(runtimes.specFor(tenant('acme')).env).toEqual({
      BULKHEAD_ROUTER_PUBLIC_KEY: 'PEM',
      BULKHEAD_IDEMPOTENCY_WINDOW_MS: '3600000',
    });
  });
});
