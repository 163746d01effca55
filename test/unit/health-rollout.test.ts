// A spec change of the whole fleet (a new image, plan or container default) rolls: each health pass
// replaces at most `replacementsPerPass` runtimes, the oldest first, and says so; the others keep
// serving and are probed as usual, so a runtime that fails meanwhile is recycled for that at once;
// the supervisor's gauges show how many were due at each pass and how many replacements failed.
// A replacement whose new runtime does not come up, or comes up and fails within the probation
// window, takes the place of one in every later pass until it runs healthy, or its tenant's spec
// changes again: a broken rollout halts.
// The real controller and health pass over the in-memory driver.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import type { RolloutLedger } from '../../supervisor/lifecycle/rollout-ledger.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { SupervisorMetrics } from '../../supervisor/metrics/runtime-metrics.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { memoryLedger } from '../support/fakes/memory-rollout-ledger.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { tenantRecord } from '../support/tenant.ts';

const FIRST_UID = 100_500;

/**
 * `count` tenants with a runtime each, created apart in time (a pass orders them by creation), then
 * every tenant's spec changed (a uid `uidStep` higher). `answers` decides which runtimes' probes
 * succeed, by tenant and uid.
 */
async function fleet(options: {
  count: number;
  perPass: number;
  answers: (tenantId: string, uid: number) => boolean;
  ledger?: RolloutLedger;
  probationMs?: number;
}) {
  const driver = new MemoryDriver(1);
  const controller = new RuntimeController({
    driver,
    image: 'bulkhead/runtime:test',
    routerPublicKey: 'PEM',
    logger: pino({ level: 'silent' }),
    settings: lifecycleSettings({ healthTimeoutMs: 30, routeSettleMs: 0, drainSeconds: 0 }),
    probe: (endpoint) =>
      Promise.resolve(
        endpoint.kind === 'unix' && options.answers(endpoint.socketPath.split('/')[2]!, endpoint.uid),
      ),
  });
  const tenants = new Map<string, TenantRecord>();
  const told: { level: string; fields: unknown }[] = [];
  const passes: { due: number; failed: number }[] = [];
  const metrics = new SupervisorMetrics();
  /** A health pass of its own (a new one: a restarted supervisor's, with the same ledger). */
  const monitor = () =>
    new HealthMonitor({
      view: driver,
      controller,
      tenants: { get: (id) => Promise.resolve(tenants.get(id)) },
      replacementsPerPass: options.perPass,
      logger: {
        info: (fields: unknown) => told.push({ level: 'info', fields }),
        warn: (fields: unknown) => told.push({ level: 'warn', fields }),
      },
      onPass: (pass) => {
        passes.push(pass);
        metrics.observePass(pass);
      },
      ledger: options.ledger,
      probationMs: options.probationMs,
    });
  const health = monitor();
  const ids = Array.from({ length: options.count }, (_, at) => `ten-${at + 1}`);
  for (const [at, id] of ids.entries()) {
    const record = tenantRecord(id, { uid: FIRST_UID + at });
    await controller.ensureRuntime(record);
    await new Promise((resolve) => setTimeout(resolve, 2));
    tenants.set(id, { ...record, uid: record.uid + 100 });
  }
  const gauge = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value;
  /** Each tenant's spec changed once more (a fix rolled out): a uid `step` above the first. */
  const respec = (step: number) => {
    for (const [id, record] of tenants)
      tenants.set(id, { ...record, uid: FIRST_UID + Number(id.slice(4)) - 1 + step });
  };
  const runtimeIds = () => ids.map((id) => driver.runtimes.get(id)?.runtimeId);
  const recycled = () => health.recycled.entries.map((e) => `${e.tenantId}: ${e.reason}`);
  return { health, monitor, told, passes, gauge, respec, runtimeIds, recycled, driver, controller, tenants };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('replacements per health pass', () => {
  it('replaces a few a pass, the oldest first; a runtime that fails is not held back', async () => {
    const failing = new Set<string>();
    const f = await fleet({ count: 5, perPass: 2, answers: (tenantId) => !failing.has(tenantId) });
    // The newest one's runtime fails its probes meanwhile.
    failing.add('ten-5');

    await f.health.runOnce();
    expect(f.recycled().sort()).toEqual(['ten-1: spec changed', 'ten-2: spec changed']);
    expect(f.told).toEqual([{ level: 'info', fields: { due: 5, now: 2, tenants: ['ten-1', 'ten-2'] } }]);
    expect(await f.gauge('bulkhead_runtimes_replacement_due')).toBe(5);
    await f.health.runOnce();
    expect(f.recycled().sort()).toEqual([
      ...['ten-1', 'ten-2', 'ten-3', 'ten-4'].map((id) => `${id}: spec changed`),
      'ten-5: failed 2 health checks',
    ]);
    // Nothing is due any more: the pass says nothing.
    await f.health.runOnce();
    expect(f.told).toHaveLength(2);
    expect(f.health.recycled.total).toBe(5);
    // What the supervisor's gauges show after each pass.
    expect(f.passes).toEqual([
      { due: 5, failed: 0 },
      { due: 3, failed: 0 },
      { due: 0, failed: 0 },
    ]);
    expect(await f.gauge('bulkhead_runtimes_replacement_due')).toBe(0);
    expect(await f.gauge('bulkhead_runtimes_replacement_failed')).toBe(0);
  });

  it('halts a rollout whose replacements do not come up, and goes on once they run healthy', async () => {
    let broken = true;
    // The new spec's runtimes (a uid of 100_600 and up) do not answer while it is broken.
    const f = await fleet({ count: 4, perPass: 2, answers: (_, uid) => uid < FIRST_UID + 100 || !broken });
    const before = f.runtimeIds();

    await f.health.runOnce();
    // A pass replaces its two at once, each recorded as it ends: two that fail end as their health
    // waits run out, in either order (ten-2's first failed a loaded CI run).
    expect(f.recycled().sort()).toEqual(['ten-1: spec changed', 'ten-2: spec changed']);
    expect(await f.gauge('bulkhead_runtimes_replacement_failed')).toBe(2);
    // Two failures in the place of two replacements: the working runtimes keep serving.
    await f.health.runOnce();
    expect(f.runtimeIds().slice(2)).toEqual(before.slice(2));
    expect(f.told.at(-1)).toEqual({
      level: 'warn',
      fields: { due: 2, now: 0, tenants: [], failed: ['ten-1', 'ten-2'] },
    });

    // The image is fixed: the failed replacements answer at the next pass, which settles them, and
    // the pass after goes on with the rollout.
    broken = false;
    await f.health.runOnce();
    expect(f.runtimeIds().slice(2)).toEqual(before.slice(2));
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 0 });
    await f.health.runOnce();
    expect(f.recycled().slice(-2).sort()).toEqual(['ten-3: spec changed', 'ten-4: spec changed']);
    expect(f.runtimeIds().slice(2)).not.toContain(before[2]);
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 0 });
    await f.health.runOnce();
    expect(f.passes.at(-1)).toEqual({ due: 0, failed: 0 });
  });

  it('goes on with a rollout once the tenants of its failed replacements are given another spec', async () => {
    // Only the first spec answers: every replacement fails until the tenants' spec changes again.
    const f = await fleet({
      count: 3,
      perPass: 1,
      answers: (_, uid) => uid < FIRST_UID + 100 || uid >= FIRST_UID + 200,
    });
    const before = f.runtimeIds();
    await f.health.runOnce();
    await f.health.runOnce();
    expect(f.recycled()).toEqual(['ten-1: spec changed']);
    expect(f.runtimeIds().slice(1)).toEqual(before.slice(1));
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 1 });

    // A fix rolled out: every tenant's spec changes once more, which settles the failed one.
    f.respec(200);
    await f.health.runOnce();
    expect(f.passes.at(-1)).toEqual({ due: 3, failed: 0 });
    // The oldest due (ten-1's replacement was made later); ten-1's, still failing, reaches its
    // second failed probe and is recycled for that, onto the new spec.
    expect(f.recycled().slice(-2).sort()).toEqual(['ten-1: failed 2 health checks', 'ten-2: spec changed']);
    expect(f.runtimeIds()[1]).not.toBe(before[1]);
  });

  it('holds a broken rollout back after a restart, from the ledger the supervisor before it kept', async () => {
    const { ledger, kept } = memoryLedger();
    const f = await fleet({
      count: 3,
      perPass: 1,
      ledger,
      answers: (_, uid) => uid < FIRST_UID + 100 || uid >= FIRST_UID + 200,
    });
    const before = f.runtimeIds();
    await f.health.runOnce();
    expect(f.recycled()).toEqual(['ten-1: spec changed']);
    expect([...kept.keys()]).toEqual(['ten-1']);
    // The supervisor restarts: its first pass replaces nothing more for the new spec (ten-1's
    // failing runtime may be recycled for its failed probes: that is never held back).
    const restarted = f.monitor();
    await restarted.runOnce();
    expect(restarted.recycled.entries.filter((e) => e.reason === 'spec changed')).toEqual([]);
    expect(f.runtimeIds().slice(1)).toEqual(before.slice(1));
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 1 });
    // A fix rolled out settles it, in the ledger too.
    f.respec(200);
    await restarted.runOnce();
    expect(kept.size).toBe(0);
  });

  it('halts a rollout whose replacements come up and crash within the probation window', async () => {
    const probationMs = 300;
    const f = await fleet({ count: 6, perPass: 2, probationMs, answers: () => true });
    const before = f.runtimeIds();
    // The clock stands still from here, and moves only past the window below: on a loaded machine,
    // real time between two passes could exceed the window, and the crashes would then fall after it.
    vi.useFakeTimers({ toFake: ['Date'] });
    await f.health.runOnce();
    expect(f.recycled().sort()).toEqual(['ten-1: spec changed', 'ten-2: spec changed']);
    // Both came up; a while later both crash (an image that fails a minute in).
    f.driver.crash('ten-1');
    f.driver.crash('ten-2');
    // The next pass finds both crashed: recycled at once, and counted as failed replacements before
    // it replaces any more.
    await f.health.runOnce();
    expect(f.recycled().slice(2).sort()).toEqual(['ten-1: crashed (exit 137)', 'ten-2: crashed (exit 137)']);
    expect(f.passes.at(-1)).toEqual({ due: 4, failed: 2 });
    expect(f.told.at(-1)).toEqual({
      level: 'warn',
      fields: { due: 4, now: 0, tenants: [], failed: ['ten-1', 'ten-2'] },
    });
    // Halted: the runtimes it has not reached keep serving, though the recycled ones answer now,
    // until they have run for the probation window.
    await f.health.runOnce();
    expect(f.passes.at(-1)).toEqual({ due: 4, failed: 2 });
    expect(f.runtimeIds().slice(2)).toEqual(before.slice(2));
    vi.setSystemTime(Date.now() + probationMs + 50);
    await f.health.runOnce();
    expect(f.passes.at(-1)).toEqual({ due: 4, failed: 0 });
    await f.health.runOnce();
    expect(f.recycled().slice(-2).sort()).toEqual(['ten-3: spec changed', 'ten-4: spec changed']);
  });

  it('counts a replacement recreated by a call within the probation window (it crashed first) as failed', async () => {
    const f = await fleet({ count: 3, perPass: 1, probationMs: 60_000, answers: () => true });
    const before = f.runtimeIds();
    await f.health.runOnce();
    expect(f.recycled()).toEqual(['ten-1: spec changed']);
    // Its new runtime crashes and a call brings it up again before the health pass sees the crash.
    f.driver.crash('ten-1');
    await f.controller.ensureRuntime(f.tenants.get('ten-1')!);
    await f.health.runOnce();
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 1 });
    expect(f.runtimeIds().slice(1)).toEqual(before.slice(1));
    expect(f.recycled()).toEqual(['ten-1: spec changed']);
  });

  it('watches a replacement on probation after a restart, from the ledger', async () => {
    const { ledger, watched } = memoryLedger();
    const f = await fleet({ count: 3, perPass: 1, probationMs: 60_000, ledger, answers: () => true });
    const before = f.runtimeIds();
    await f.health.runOnce();
    expect([...watched.keys()]).toEqual(['ten-1']);
    // The supervisor restarts; then the replacement crashes: the new supervisor counts it.
    const restarted = f.monitor();
    f.driver.crash('ten-1');
    await restarted.runOnce();
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 1 });
    expect(f.runtimeIds().slice(1)).toEqual(before.slice(1));
    expect(watched.size).toBe(0);
  });

  it('does not count a replacement that fails after the probation window', async () => {
    const f = await fleet({ count: 3, perPass: 1, probationMs: 100, answers: () => true });
    await f.health.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 150));
    f.driver.crash('ten-1');
    await f.health.runOnce();
    // The second pass's two recycles run side by side: in either order.
    expect(f.recycled().slice(0, 1)).toEqual(['ten-1: spec changed']);
    expect(f.recycled().slice(1).sort()).toEqual(['ten-1: crashed (exit 137)', 'ten-2: spec changed']);
    expect(f.passes.at(-1)).toEqual({ due: 2, failed: 0 });
  });
});
