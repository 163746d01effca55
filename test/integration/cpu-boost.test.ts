// The start-time CPU boost against the real engine: a start runs with the boosted quota (read from
// the container's own CPU cgroup, the limit the kernel enforces), and once it is over the live limit
// is the plan's: after a normal start, after a wake from stopped, when the runtime never answers
// (the deadline), and when a supervisor that died left a boost behind (the health pass). The
// isolation evidence fails while a boost outlives its start, and passes once it is ended.
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { CpuLimits } from '../../supervisor/runtime/runtime-driver.ts';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { readCpuQuota, writeCpuQuota } from '../../supervisor/docker/host-cgroup.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import type { LifecycleSettings } from '../../supervisor/lifecycle/controller-parts.ts';
import type { HealthProbe } from '../../supervisor/runtime/health-probe.ts';
import { IsolationVerifier } from '../../supervisor/verify/isolation-verifier.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { execIn, RUNTIME_IMAGE, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { tenantRecord } from '../support/tenant.ts';

const PLAN = '500000';
const BOOST = '2000000';

/** The Docker driver, its restores held back until released: the boost can be seen in force. */
class GatedDriver extends DockerDriver {
  private gate: Promise<void> = Promise.resolve();
  hold(): () => void {
    let release = (): void => undefined;
    this.gate = new Promise((resolve) => (release = resolve));
    return release;
  }
  override async restoreCpu(tenantId: string, limits: CpuLimits): Promise<void> {
    await this.gate;
    return super.restoreCpu(tenantId, limits);
  }
}

let ns: TestNamespace;
let driver: GatedDriver;
let publicKey: string;

function controller(settings: Partial<LifecycleSettings>, probe?: HealthProbe): RuntimeController {
  return new RuntimeController({
    driver,
    image: RUNTIME_IMAGE,
    routerPublicKey: publicKey,
    logger: pino({ level: 'silent' }),
    settings: lifecycleSettings({ startCpuBoost: 2, ...settings }),
    ...(probe ? { probe } : {}),
  });
}

/** The container's CPU quota as the kernel enforces it (cgroup v1, its own cgroup namespace). */
async function liveQuota(tenantId: string): Promise<string> {
  const name = driver.placement(tenantId, 0).containerName;
  const read = await execIn(ns.docker, name, ['cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us']);
  return read.output.trim();
}

async function engineQuota(tenantId: string): Promise<number | undefined> {
  const name = driver.placement(tenantId, 0).containerName;
  return (await ns.docker.getContainer(name).inspect()).HostConfig.CpuQuota;
}

beforeAll(async () => {
  ns = await testNamespace('boost');
  publicKey = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;
  driver = new GatedDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await ns.cleanup();
});

/** One health pass over the namespace's containers, `tenant` the only one it knows; its boosts settled. */
async function healthPass(lifecycle: RuntimeController, tenant: TenantRecord): Promise<void> {
  const health = new HealthMonitor({
    view: driver,
    controller: lifecycle,
    tenants: { get: (id) => Promise.resolve(id === tenant.id ? tenant : undefined) },
  });
  await health.runOnce();
  await lifecycle.cpuBoostSettled(tenant.id);
}

describe('the start-time CPU boost on the real engine', () => {
  // Every start of this tenant gets a boost: the wake follows the create within seconds.
  const manager = () => controller({ startCpuBoostIntervalMs: 0 });
  let lifecycle: RuntimeController;
  const tenant: TenantRecord = tenantRecord('boosted', { uid: 100_301 });

  /** The tenant's next start runs boosted; once it has answered, the plan's quota is the live limit. */
  async function startsBoostedThenPlan(): Promise<void> {
    const release = driver.hold();
    await lifecycle.ensure(tenant);
    expect(await liveQuota('boosted')).toBe(BOOST);
    release();
    await lifecycle.cpuBoostSettled('boosted');
    expect(await liveQuota('boosted')).toBe(PLAN);
    expect(await engineQuota('boosted')).toBe(Number(PLAN));
  }

  it("starts boosted, and the plan's quota is the live limit once the runtime has answered", async () => {
    lifecycle = manager();
    await startsBoostedThenPlan();
  });

  it("wakes from stopped boosted, and the plan's quota is the live limit after", async () => {
    expect(await lifecycle.idle('boosted', { event: 'stop' })).toBe(true);
    await startsBoostedThenPlan();
  });

  it('ends the boost at its deadline when the runtime never answers, before the start gives up', async () => {
    const hanging = tenantRecord('hanging', { uid: 100_302 });
    const never = controller({ startCpuBoostMs: 500, healthTimeoutMs: 4_000 }, () => Promise.resolve(false));
    const started = new Promise<void>((resolve) => {
      const ensure = driver.ensure.bind(driver);
      driver.ensure = (spec, options) => ensure(spec, options).finally(resolve);
    });
    let startOver = false;
    const start = never.ensure(hanging).finally(() => (startOver = true));
    start.catch(() => undefined);
    await started;
    await never.cpuBoostSettled('hanging');
    expect(startOver).toBe(false);
    expect(await liveQuota('hanging')).toBe(PLAN);
    expect(await engineQuota('hanging')).toBe(Number(PLAN));
    await expect(start).rejects.toThrow(/did not become healthy/);
  });

  it('fails the isolation evidence while a boost outlives its start, until the health pass ends it', async () => {
    // What a supervisor that died during a start leaves: the boosted quota and no deadline timer.
    const name = driver.placement('boosted', 0).containerName;
    await ns.docker.getContainer(name).update({ CpuQuota: Number(BOOST) });
    const verifier = new IsolationVerifier({
      docker: ns.docker,
      driver,
      cpuBoostSettled: (id) => lifecycle.cpuBoostSettled(id),
    });
    const failing = async () =>
      (await verifier.verify(tenant, [])).checks.filter((c) => !c.pass).map((c) => c.id);
    expect(await failing()).toEqual(['limits.cpu', 'probe.limits']);
    await healthPass(lifecycle, tenant);
    expect(await liveQuota('boosted')).toBe(PLAN);
    expect(await failing()).toEqual([]);
  });
});

// gVisor: the engine cannot change a running sandbox's quota, so the boost is written to the host
// cgroup that holds the sandbox's processes, and the engine's record stays the plan's throughout.
describe("the start-time CPU boost of a gVisor tenant, in its sandbox's host cgroup", () => {
  const tenant: TenantRecord = tenantRecord('gboosted', { uid: 100_303, isolation: 'gvisor' });
  let lifecycle: RuntimeController;

  async function sandboxQuota(): Promise<number | undefined> {
    const name = driver.placement('gboosted', 0).containerName;
    const { Id, State } = await ns.docker.getContainer(name).inspect();
    return readCpuQuota(State.Pid, Id);
  }

  const verifier = () =>
    new IsolationVerifier({
      docker: ns.docker,
      driver,
      cpuBoostSettled: (id) => lifecycle.cpuBoostSettled(id),
    });
  const failing = async () =>
    (await verifier().verify(tenant, [])).checks.filter((c) => !c.pass).map((c) => c.id);

  it("starts boosted in its cgroup, and the plan's quota is the live limit once it has answered", async () => {
    lifecycle = controller({ startCpuBoostIntervalMs: 0 });
    const release = driver.hold();
    await lifecycle.ensure(tenant);
    expect(await sandboxQuota()).toBe(Number(BOOST));
    expect(await engineQuota('gboosted')).toBe(Number(PLAN));
    release();
    await lifecycle.cpuBoostSettled('gboosted');
    expect(await sandboxQuota()).toBe(Number(PLAN));
    expect(await engineQuota('gboosted')).toBe(Number(PLAN));
    expect(await failing()).toEqual([]);
  });

  it('fails the isolation evidence while a boost outlives its start, until the health pass ends it', async () => {
    // What a supervisor that died during a start leaves: the boost in the cgroup, no deadline timer.
    const name = driver.placement('gboosted', 0).containerName;
    const { Id, State } = await ns.docker.getContainer(name).inspect();
    const boost = { pid: State.Pid, containerId: Id, quotaUs: Number(BOOST), periodUs: 1_000_000 };
    expect(await writeCpuQuota(boost)).toBe(true);
    expect((await driver.list()).find((r) => r.tenantId === 'gboosted')?.cpuQuota).toBe(Number(BOOST));
    expect(await failing()).toEqual(['probe.limits']);
    await healthPass(lifecycle, tenant);
    expect(await sandboxQuota()).toBe(Number(PLAN));
    expect(await failing()).toEqual([]);
  });
});
