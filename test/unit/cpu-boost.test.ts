// The start-time CPU boost (supervisor/lifecycle/cpu-boost.ts) at the driver port: who gets one, that
// the plan's quota is back once the runtime has answered, and that no boost outlives its deadline,
// whether the runtime hangs, the deadline passes during the engine's start, or a supervisor died
// and left one behind. The same against the real engine: test/integration/cpu-boost.test.ts.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startCpuLimitFor } from '../../supervisor/runtime/runtime-cpu.ts';
import { buildContainerSpec, type Placement } from '../../supervisor/docker/container-spec.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import type { LifecycleSettings } from '../../supervisor/lifecycle/controller-parts.ts';
import { probeChecks } from '../../supervisor/verify/probe-checks.ts';
import { hardenedProbe } from '../support/probe-observation.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { tenantRecord } from '../support/tenant.ts';

const PLAN_QUOTA = 500_000;
const BOOST_QUOTA = 2_000_000;

function controllerWith(options: {
  settings?: Partial<LifecycleSettings>;
  driver?: MemoryDriver;
  healthy?: () => boolean;
}) {
  const driver = options.driver ?? new MemoryDriver(1);
  const controller = new RuntimeController({
    driver,
    image: 'bulkhead/runtime:test',
    routerPublicKey: 'PEM',
    logger: pino({ level: 'silent' }),
    settings: lifecycleSettings({ routeSettleMs: 0, drainSeconds: 0, startCpuBoost: 2, ...options.settings }),
    probe: () => Promise.resolve(options.healthy?.() ?? true),
  });
  return { driver, controller };
}

/** The quota each start was given (the driver's `startCpuQuota`), in order. */
function startQuotas(driver: MemoryDriver): (number | undefined)[] {
  const given: (number | undefined)[] = [];
  const ensure = driver.ensure.bind(driver);
  driver.ensure = (spec, options) => {
    given.push(options.startCpuQuota);
    return ensure(spec, options);
  };
  return given;
}

describe('startCpuLimitFor', () => {
  const small = { cpus: 0.5 };
  it.each([
    ['2 CPUs', 2, { CpuPeriod: 1_000_000, CpuQuota: 2_000_000 }],
    ['off', 0, undefined],
    ['no more than the plan', 0.5, undefined],
  ] as const)('%s', (_name, cpus, expected) => {
    expect(startCpuLimitFor(small, cpus)).toEqual(expected);
  });

  it('is what a container is created with, the period unchanged', () => {
    const placement: Placement = {
      namespace: 'prod',
      socketDir: '/run/x',
      volumeName: 'v',
      containerName: 'c',
      generation: 1,
    };
    const spec = {
      tenantId: 'a',
      uid: 100_001,
      image: 'i',
      isolation: 'runc' as const,
      plan: tenantRecord('alpha').plan,
      env: {},
    };
    expect(buildContainerSpec(spec, placement, { startCpuQuota: BOOST_QUOTA }).HostConfig).toMatchObject({
      CpuQuota: BOOST_QUOTA,
      CpuPeriod: 1_000_000,
    });
    expect(buildContainerSpec(spec, placement).HostConfig?.CpuQuota).toBe(PLAN_QUOTA);
  });
});

describe('the start-time CPU boost in the lifecycle controller', () => {
  it("starts a runtime boosted and puts the plan's quota back once it has answered", async () => {
    const { driver, controller } = controllerWith({});
    const given = startQuotas(driver);
    await controller.ensure(tenantRecord('alpha'));
    await controller.cpuBoostSettled('alpha');
    expect(given).toEqual([BOOST_QUOTA]);
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(PLAN_QUOTA);
  });

  it('boosts each start once: a wake from stopped again, a wake from paused not (no start)', async () => {
    const { driver, controller } = controllerWith({ settings: { startCpuBoostIntervalMs: 0 } });
    const given = startQuotas(driver);
    const tenant = tenantRecord('alpha');
    await controller.ensure(tenant);
    await controller.idle('alpha', { event: 'stop' });
    await controller.ensure(tenant);
    await controller.idle('alpha', { event: 'pause' });
    await controller.ensure(tenant);
    await controller.cpuBoostSettled('alpha');
    expect(given).toEqual([BOOST_QUOTA, BOOST_QUOTA]);
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(PLAN_QUOTA);
  });

  it('gives a runtime that ends itself and is started again no new boost within the interval', async () => {
    const { driver, controller } = controllerWith({});
    const given = startQuotas(driver);
    const tenant = tenantRecord('alpha');
    await controller.ensure(tenant);
    // Exit 0 is no crash: the crash circuit does not slow such a loop; the next call wakes it.
    driver.crash('alpha', 0);
    await controller.ensure(tenant);
    await controller.cpuBoostSettled('alpha');
    expect(given).toEqual([BOOST_QUOTA, undefined]);
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(PLAN_QUOTA);
  });

  it('boosts only a start alone: of starts under way together, only the first', async () => {
    const { driver, controller } = controllerWith({});
    const given = startQuotas(driver);
    await Promise.all(['alpha', 'bravo', 'charlie'].map((id) => controller.ensure(tenantRecord(id))));
    await Promise.all(['alpha', 'bravo', 'charlie'].map((id) => controller.cpuBoostSettled(id)));
    expect(given).toEqual([BOOST_QUOTA, undefined, undefined]);
    expect([...driver.runtimes.values()].map((r) => r.cpuQuota)).toEqual([
      PLAN_QUOTA,
      PLAN_QUOTA,
      PLAN_QUOTA,
    ]);
  });

  it('gives none when it is off; a gVisor tenant gets one like any other', async () => {
    const off = controllerWith({ settings: { startCpuBoost: 0 } });
    const offGiven = startQuotas(off.driver);
    await off.controller.ensure(tenantRecord('alpha'));
    expect(offGiven).toEqual([undefined]);
    expect(off.driver.calls.filter((c) => c.op === 'restoreCpu')).toEqual([]);
    const gvisor = controllerWith({});
    const gvisorGiven = startQuotas(gvisor.driver);
    await gvisor.controller.ensure(tenantRecord('gamma', { isolation: 'gvisor' }));
    await gvisor.controller.cpuBoostSettled('gamma');
    expect(gvisorGiven).toEqual([BOOST_QUOTA]);
    expect(gvisor.driver.calls.filter((c) => c.op === 'restoreCpu')).toHaveLength(1);
  });

  it('ends the boost at its deadline while a runtime that never answers is still awaited', async () => {
    const { driver, controller } = controllerWith({
      settings: { startCpuBoostMs: 100, healthTimeoutMs: 5_000 },
      healthy: () => false,
    });
    let startOver = false;
    const engineStarted = new Promise<void>((resolve) => {
      const ensure = driver.ensure.bind(driver);
      driver.ensure = (spec, options) => ensure(spec, options).finally(resolve);
    });
    const start = controller.ensure(tenantRecord('alpha')).finally(() => (startOver = true));
    start.catch(() => undefined);
    await engineStarted;
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(BOOST_QUOTA);
    await controller.cpuBoostSettled('alpha');
    expect(startOver).toBe(false);
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(PLAN_QUOTA);
    await expect(start).rejects.toThrow(/did not become healthy/);
  });

  it('puts the plan back when the deadline passed during the engine start itself', async () => {
    // The engine takes longer than the deadline: the deadline's restore finds no container yet
    // (the engine answers an update of a container not yet created at once: 404).
    const engine = new MemoryDriver(150);
    engine.restoreCpu = (tenantId) => {
      const info = engine.runtimes.get(tenantId);
      if (info) info.cpuQuota = PLAN_QUOTA;
      return Promise.resolve();
    };
    const { driver, controller } = controllerWith({
      driver: engine,
      settings: { startCpuBoostMs: 100, healthTimeoutMs: 300 },
      healthy: () => false,
    });
    await expect(controller.ensure(tenantRecord('alpha'))).rejects.toThrow(/did not become healthy/);
    await controller.cpuBoostSettled('alpha');
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(PLAN_QUOTA);
  });

  it('ends a boost a supervisor that died left behind, at the next health pass', async () => {
    const { driver, controller } = controllerWith({});
    const tenant = tenantRecord('alpha');
    await controller.ensure(tenant);
    await controller.cpuBoostSettled('alpha');
    driver.runtimes.get('alpha')!.cpuQuota = BOOST_QUOTA;
    const health = new HealthMonitor({
      view: driver,
      controller,
      tenants: { get: (id) => Promise.resolve(id === 'alpha' ? tenant : undefined) },
    });
    await health.runOnce();
    await controller.cpuBoostSettled('alpha');
    expect(driver.runtimes.get('alpha')?.cpuQuota).toBe(PLAN_QUOTA);
  });
});

describe("verify's probe of the live CPU limit", () => {
  const seen = hardenedProbe(100_100);
  const limits = (cpuMax: string | null) =>
    probeChecks({ ...seen, cpuMax }, tenantRecord('alpha')).find((c) => c.id === 'probe.limits');

  it.each([
    ["the plan's quota per 1 s period", '500000 1000000', true],
    ["the plan's share per 100 ms (a container made before the 1 s period)", '50000 100000', true],
    ['a start-time boost still in force', '2000000 1000000', false],
    ['no quota', '-1 100000', false],
    ['unreadable', null, false],
  ] as const)('%s: pass %s', (_name, cpuMax, pass) => {
    expect(limits(cpuMax)?.pass).toBe(pass);
  });
});
