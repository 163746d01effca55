import { RUNTIME_IMAGE } from '../support/namespace.ts';
// Pausing a runtime in its host cgroup's freezer (supervisor/docker/runtime-freezer.ts), against the
// real engine and kernel: the engine reports it running while no process of it runs, the driver
// reports it paused and thaws it, as does a supervisor started anew; one the engine paused is thawed
// by the engine, and woken where the engine takes it for paused though it runs, or took it so and
// cleared its flag before the wake's unpause; a frozen runtime still stops gracefully, is removed
// at once without a drain and is reported paused by the isolation evidence; the tenant cannot reach
// its own freezer; a supervisor that cannot reach the host's cgroups pauses through the engine; and a
// wake of a runtime removed since its pause fails as the driver fails for a container gone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { pauseByEngine, RuntimeFreezer } from '../../supervisor/docker/runtime-freezer.ts';
import { IsolationVerifier } from '../../supervisor/verify/isolation-verifier.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import type { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { tenantRecord } from '../support/tenant.ts';
import { driverHarness } from '../support/driver-harness.ts';
import { kernelFreezer, setKernelFreezer } from '../support/frozen.ts';
import { execIn, type TestNamespace } from '../support/namespace.ts';
import { containerEvents, recordEvents } from '../support/engine-events.ts';
import { until } from '../support/until.ts';

let ns: TestNamespace;
let driver: DockerDriver;
let manager: RuntimeController;

beforeAll(async () => {
  ({ ns, driver, manager } = await driverHarness('freezer'));
});

afterAll(async () => {
  await ns.cleanup();
});

const engineState = async (runtimeId: string) => (await ns.docker.getContainer(runtimeId).inspect()).State;

describe('a runtime paused in its host cgroup', () => {
  it('runs nothing while frozen, though the engine reports it running; the driver reports it paused and thaws it', async () => {
    const { info: up } = await manager.ensureRuntime(tenantRecord('icy', { uid: 100_231 }));
    expect(await probeHealth(up.endpoint)).toBe(true);

    await driver.pause('icy');
    const paused = await driver.inspect('icy');
    expect(paused).toMatchObject({ state: 'paused', pausedBy: 'host', runtimeId: up.runtimeId });
    expect(await kernelFreezer(ns.docker, up.runtimeId)).toBe('FROZEN');
    expect(await engineState(up.runtimeId)).toMatchObject({ Running: true, Paused: false });
    // Its socket accepts the connection (the kernel does), its server never answers.
    expect(await probeHealth(up.endpoint, 500)).toBe(false);

    const woken = await driver.resume(paused!);
    expect(woken.state).toBe('running');
    expect(woken.pausedBy).toBeUndefined();
    expect(await kernelFreezer(ns.docker, up.runtimeId)).toBe('THAWED');
    expect(await probeHealth(up.endpoint)).toBe(true);
    expect((await driver.inspect('icy'))?.state).toBe('running');
  });

  it('a supervisor started anew finds a runtime its predecessor froze, reports it paused and thaws it', async () => {
    await driver.pause('icy');
    const successor = new DockerDriver({
      toolImage: RUNTIME_IMAGE,
      namespace: ns.namespace,
      runDir: ns.runDir,
      routerGid: 0,
      logger: pino({ level: 'silent' }),
    });
    const found = await successor.inspect('icy');
    expect(found).toMatchObject({ state: 'paused', pausedBy: 'host' });
    // And with nothing known of it at all: the thaw looks its cgroup up again.
    const container = ns.docker.getContainer(found!.runtimeId);
    await new RuntimeFreezer().thaw(container, 'host');
    expect(await kernelFreezer(ns.docker, found!.runtimeId)).toBe('THAWED');
    expect(await probeHealth(found!.endpoint)).toBe(true);
    expect((await successor.inspect('icy'))?.state).toBe('running');
  });

  it('leaves a runtime the engine paused to the engine, which then reports it running again', async () => {
    const { runtimeId } = (await driver.inspect('icy'))!;
    await pauseByEngine(ns.docker.getContainer(runtimeId));
    const paused = await driver.inspect('icy');
    expect(paused).toMatchObject({ state: 'paused', pausedBy: 'engine' });
    await driver.pause('icy'); // already paused: nothing more
    await driver.resume(paused!);
    expect(await kernelFreezer(ns.docker, runtimeId)).toBe('THAWED');
    expect(await probeHealth(paused!.endpoint)).toBe(true);
    // The engine's report follows. Its pause is told twice: by the request (at once) and by
    // containerd's event (later; it sets Paused only where the flag is clear). On a loaded machine
    // that event arrived after the unpause had cleared the flag, and the engine reported the
    // thawed runtime paused until containerd's resume event came.
    await expect
      .poll(async () => engineState(runtimeId), { interval: 20, timeout: 5_000 })
      .toMatchObject({ Running: true, Paused: false });
  });

  it('wakes a runtime the engine takes for paused though it runs, as after its late pause event', async () => {
    const { runtimeId } = (await driver.inspect('icy'))!;
    const container = ns.docker.getContainer(runtimeId);
    // The engine's flag set, its container running: the state its late pause event leaves.
    await pauseByEngine(container);
    await setKernelFreezer(ns.docker, runtimeId, false);
    const seen = await driver.inspect('icy');
    expect(seen).toMatchObject({ state: 'paused', pausedBy: 'engine' });
    await expect(container.unpause()).rejects.toThrow(/container not paused/);
    expect(await driver.resume(seen!)).toMatchObject({ state: 'running' });
    expect(await probeHealth(seen!.endpoint)).toBe(true);
    // The engine's flag cleared as its own resume clears it: frozen again, then unpaused.
    await setKernelFreezer(ns.docker, runtimeId, true);
    await container.unpause();
    expect(await engineState(runtimeId)).toMatchObject({ Running: true, Paused: false });
  });

  it('wakes a runtime the engine took for paused and whose flag cleared before the wake unpaused it', async () => {
    const { runtimeId } = (await driver.inspect('icy'))!;
    const container = ns.docker.getContainer(runtimeId);
    await pauseByEngine(container);
    const seen = await driver.inspect('icy');
    expect(seen).toMatchObject({ state: 'paused', pausedBy: 'engine' });
    // Cleared between the wake's look and its unpause, as containerd's resume event clears it after
    // a late pause event: the engine refuses the unpause ("Container <id> is not paused").
    await container.unpause();
    await expect(container.unpause()).rejects.toThrow(/is not paused/);
    expect(await driver.resume(seen!)).toMatchObject({ state: 'running' });
    expect(await probeHealth(seen!.endpoint)).toBe(true);
  });

  it('is out of reach of the tenant: its own processes can neither freeze nor thaw it', async () => {
    const { runtimeId } = (await driver.inspect('icy'))!;
    for (const [file, value] of [
      ['/sys/fs/cgroup/freezer/freezer.state', 'FROZEN'],
      ['/sys/fs/cgroup/freezer/freezer.state', 'THAWED'],
      ['/sys/fs/cgroup/cgroup.freeze', '1'],
    ]) {
      const attempt = await execIn(ns.docker, runtimeId, ['/bin/sh', '-c', `echo ${value} > ${file}`]);
      expect(attempt.exitCode).not.toBe(0);
    }
    expect(await kernelFreezer(ns.docker, runtimeId)).toBe('THAWED');
  });

  it('its isolation evidence says it is paused, at once, and probes nothing inside it', async () => {
    // A probe's deadline past the test's timeout: a probe run inside the frozen runtime either adds
    // its checks to the report (which holds one) or holds the verification until the test fails at
    // its timeout, however fast or slow the machine.
    const verifier = new IsolationVerifier({ docker: ns.docker, driver, probeTimeoutMs: 600_000 });
    await driver.pause('icy');
    const report = await verifier.verify(tenantRecord('icy', { uid: 100_231 }), []);
    expect(report.pass).toBe(false);
    expect(report.checks).toEqual([
      expect.objectContaining({ id: 'runtime.running', pass: false, why: expect.stringContaining('paused') }),
    ]);
    await driver.resume((await driver.inspect('icy'))!);
  });

  it('a frozen runtime still stops gracefully: thawed first, its server takes SIGTERM within the grace', async () => {
    const { runtimeId } = (await driver.inspect('icy'))!;
    await driver.pause('icy');
    expect(await kernelFreezer(ns.docker, runtimeId)).toBe('FROZEN');
    await driver.stop('icy', { graceSeconds: 10 });
    const state = await engineState(runtimeId);
    expect(state.Running).toBe(false);
    // SIGKILL after the grace would be 137; a thawed server ends on SIGTERM, within it.
    expect(state.ExitCode).not.toBe(137);
    expect((await driver.inspect('icy'))?.state).toBe('stopped');
    await driver.remove('icy', { purgeData: true });
  });

  it('freezes a gVisor sandbox whole in its host cgroup, and thaws it', async () => {
    const { info: up } = await manager.ensureRuntime(
      tenantRecord('sandboxed', { uid: 100_233, isolation: 'gvisor' }),
    );
    await driver.pause('sandboxed');
    const paused = await driver.inspect('sandboxed');
    expect(paused).toMatchObject({ state: 'paused', pausedBy: 'host' });
    expect(await kernelFreezer(ns.docker, up.runtimeId)).toBe('FROZEN');
    expect(await probeHealth(up.endpoint, 500)).toBe(false);
    await driver.resume(paused!);
    expect(await probeHealth(up.endpoint)).toBe(true);
    await driver.remove('sandboxed', { purgeData: true });
  });

  it('a frozen runtime is removed at once, without a drain (the engine kills it frozen)', async () => {
    const { info: up } = await manager.ensureRuntime(tenantRecord('gone', { uid: 100_234 }));
    await driver.pause('gone');
    expect(await kernelFreezer(ns.docker, up.runtimeId)).toBe('FROZEN');
    const events = await recordEvents(ns.docker, ns.namespace);
    try {
      await driver.remove('gone', { purgeData: true });
      expect(await driver.inspect('gone')).toBeUndefined();
      // The engine's word: it killed the frozen runtime (SIGKILL, exit 137) and destroyed it, with
      // no SIGTERM first (a drain would send one and wait out its grace).
      const seen = () => containerEvents(events.text(), up.runtimeId);
      await until(() => seen().some((e) => e.Action === 'destroy'), "the engine's destroy event");
      const signals = seen()
        .filter((e) => e.Action === 'kill')
        .map((e) => e.Actor.Attributes.signal);
      expect(signals.length).toBeGreaterThan(0);
      expect(new Set(signals)).toEqual(new Set(['9']));
      expect(seen().find((e) => e.Action === 'die')?.Actor.Attributes.exitCode).toBe('137');
    } finally {
      events.stop();
    }
  });

  it('a wake of a runtime removed since its pause fails runtime_failed (vanished), never the engine 404', async () => {
    const record = tenantRecord('ghost', { uid: 100_235 });
    const successor = () =>
      new DockerDriver({
        toolImage: RUNTIME_IMAGE,
        namespace: ns.namespace,
        runDir: ns.runDir,
        routerGid: 0,
        logger: pino({ level: 'silent' }),
      });
    for (const by of ['host', 'engine'] as const) {
      const { info: up } = await manager.ensureRuntime(record);
      if (by === 'host') await driver.pause('ghost');
      else await pauseByEngine(ns.docker.getContainer(up.runtimeId));
      const paused = await driver.inspect('ghost');
      expect(paused).toMatchObject({ state: 'paused', pausedBy: by, runtimeId: up.runtimeId });
      // Removed between the pause and the wake (an operator's docker rm -f, say).
      await ns.docker.getContainer(up.runtimeId).remove({ force: true });
      // This supervisor knows its freezer; one started anew looks the container up first.
      for (const waking of [driver, successor()])
        await expect(waking.resume(paused!)).rejects.toMatchObject({
          code: 'runtime_failed',
          message: 'container for tenant ghost vanished before its wake',
        });
      // And a stop or removal of what was frozen finds nothing left to do.
      await expect(new RuntimeFreezer().thaw(ns.docker.getContainer(up.runtimeId), by)).resolves.toBe('gone');
    }
    await driver.remove('ghost', { purgeData: true });
  });

  it('pauses through the engine where the host cgroups are out of reach', async () => {
    const { info: up } = await manager.ensureRuntime(tenantRecord('far', { uid: 100_232 }));
    const empty = await mkdtemp(join(tmpdir(), 'bulkhead-no-cgroups-'));
    try {
      const freezer = new RuntimeFreezer({ root: empty });
      const container = ns.docker.getContainer(up.runtimeId);
      await freezer.freeze(container, await container.inspect());
      expect(await engineState(up.runtimeId)).toMatchObject({ Paused: true });
      expect(await freezer.pausedBy(await container.inspect())).toBe('engine');
      await container.unpause();
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    await driver.remove('far', { purgeData: true });
  });
});
