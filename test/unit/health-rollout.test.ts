// A spec change of the whole fleet (a new image, plan or container default) rolls: each health pass
// replaces at most `replacementsPerPass` runtimes, the oldest first, and says so; the others keep
// serving and are probed as usual, so a runtime that fails meanwhile is recycled for that at once;
// the supervisor's gauge shows how many were due at each pass.
// The real controller and health pass over the in-memory driver.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { SupervisorMetrics } from '../../supervisor/metrics/runtime-metrics.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { tenantRecord } from '../support/tenant.ts';

describe('replacements per health pass', () => {
  it('replaces a few a pass, the oldest first; a runtime that fails is not held back', async () => {
    const driver = new MemoryDriver(1);
    const failing = new Set<string>();
    const controller = new RuntimeController({
      driver,
      image: 'bulkhead/runtime:test',
      routerPublicKey: 'PEM',
      logger: pino({ level: 'silent' }),
      settings: lifecycleSettings({ healthTimeoutMs: 30, routeSettleMs: 0, drainSeconds: 0 }),
      probe: (endpoint) =>
        Promise.resolve(endpoint.kind === 'unix' && !failing.has(endpoint.socketPath.split('/')[2]!)),
    });
    const tenants = new Map<string, TenantRecord>();
    const told: unknown[] = [];
    const passes: number[] = [];
    const metrics = new SupervisorMetrics();
    const dueGauge = async () =>
      (await metrics.registry.getSingleMetric('bulkhead_runtimes_replacement_due')!.get()).values[0]?.value;
    const health = new HealthMonitor({
      view: driver,
      controller,
      tenants: { get: (id) => Promise.resolve(tenants.get(id)) },
      replacementsPerPass: 2,
      logger: { info: (fields: unknown) => told.push(fields) },
      onPass: (pass) => {
        passes.push(pass.due);
        metrics.observePass(pass);
      },
    });
    const ids = ['ten-1', 'ten-2', 'ten-3', 'ten-4', 'ten-5'];
    for (const [at, id] of ids.entries()) {
      const record = tenantRecord(id, { uid: 100_500 + at });
      await controller.ensureRuntime(record);
      // Apart in time: the pass orders them by their containers' creation.
      await new Promise((resolve) => setTimeout(resolve, 2));
      tenants.set(id, { ...record, uid: record.uid + 100 });
    }
    // The newest one's runtime fails its probes meanwhile.
    failing.add('ten-5');

    await health.runOnce();
    expect(health.recycled.entries.map((e) => e.tenantId)).toEqual(['ten-1', 'ten-2']);
    expect(told).toEqual([{ due: 5, now: 2, tenants: ['ten-1', 'ten-2'] }]);
    expect(await dueGauge()).toBe(5);
    await health.runOnce();
    expect(health.recycled.entries.map((e) => `${e.tenantId}: ${e.reason}`)).toEqual([
      ...['ten-1', 'ten-2', 'ten-3', 'ten-4'].map((id) => `${id}: spec changed`),
      'ten-5: failed 2 health checks',
    ]);
    // Nothing is due any more: the pass says nothing.
    await health.runOnce();
    expect(told).toHaveLength(2);
    expect(health.recycled.total).toBe(5);
    // What the supervisor's bulkhead_runtimes_replacement_due shows after each pass.
    expect(passes).toEqual([5, 3, 0]);
    expect(await dueGauge()).toBe(0);
  });
});
