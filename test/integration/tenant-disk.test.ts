// A tenant's disk against the real engine and kernel (supervisor/docker/tenant-disk.ts): a hostile
// runtime that writes without end fills its own disk and nothing else, under runc and gVisor; a
// host restart's detached loop devices are attached again with the data kept, and a loop device
// that holds another filesystem by then is never mounted as the tenant's; offboarding's purge
// leaves no loop device and no image.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import type { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { devicesHolding, diskVolumeName } from '../../supervisor/docker/tenant-disk.ts';
import { driverHarness } from '../support/driver-harness.ts';
import { execIn, type TestNamespace } from '../support/namespace.ts';
import { tenantRecord } from '../support/tenant.ts';

const run = promisify(execFile);

let ns: TestNamespace;
let driver: DockerDriver;
let manager: RuntimeController;

beforeAll(async () => {
  ({ ns, driver, manager } = await driverHarness('disk'));
});

afterAll(async () => {
  await ns.cleanup();
});

/** A tenant whose plan gives it a disk of `diskMb`. */
function tenant(id: string, uid: number, diskMb: number, isolation: 'runc' | 'gvisor' = 'runc') {
  return tenantRecord(id, {
    uid,
    isolation,
    plan: { name: 'small', memoryMb: 192, cpus: 0.5, pids: 64, tmpMb: 16, diskMb },
  });
}

/** The tenant's runtime up, by the controller as a call would have it: its container's id. */
async function up(record: ReturnType<typeof tenant>): Promise<string> {
  await manager.ensure(record);
  const info = await driver.inspect(record.id);
  expect(info?.state).toBe('running');
  return info!.runtimeId;
}

/** A shell command run in the tenant's container as the tenant's runtime runs (its UID). */
async function inTenant(runtimeId: string, command: string): Promise<{ exitCode: number; output: string }> {
  return execIn(ns.docker, runtimeId, ['sh', '-c', command]);
}

/** The loop device the tenant's data volume names. */
async function volumeDevice(tenantId: string): Promise<string | undefined> {
  const volume = await ns.docker.getVolume(driver.placement(tenantId, 0).volumeName).inspect();
  return volume.Options?.device;
}

describe("a tenant's disk", () => {
  for (const isolation of ['runc', 'gvisor'] as const) {
    it(`holds a runtime that writes without end to its plan's size, its neighbour still writing (${isolation})`, async () => {
      const filler = await up(
        tenant(`fill-${isolation}`, 100_301 + (isolation === 'gvisor' ? 10 : 0), 32, isolation),
      );
      const neighbour = await up(
        tenant(`next-${isolation}`, 100_302 + (isolation === 'gvisor' ? 10 : 0), 32, isolation),
      );

      const flood = await inTenant(filler, 'dd if=/dev/zero of=/data/flood bs=1M count=96 2>&1');
      expect(flood.exitCode).not.toBe(0);
      expect(flood.output).toMatch(/No space left on device/);
      const written = Number((await inTenant(filler, 'wc -c < /data/flood')).output.trim());
      expect(written).toBeGreaterThan(16 * 1024 * 1024);
      expect(written).toBeLessThanOrEqual(32 * 1024 * 1024);

      const next = await inTenant(neighbour, 'echo still > /data/probe && cat /data/probe');
      expect(next).toEqual({ exitCode: 0, output: 'still\n' });
      // Its own files are what it filled: its disk, not the neighbour's.
      expect((await inTenant(neighbour, 'ls /data')).output).not.toMatch(/flood/);
      await driver.remove(`fill-${isolation}`, { purgeData: true });
      await driver.remove(`next-${isolation}`, { purgeData: true });
    });
  }

  it('is attached again after its loop device was detached, and never mounts what holds that device since', async () => {
    const record = tenant('restarted', 100_303, 32);
    const first = await up(record);
    expect((await inTenant(first, 'echo kept > /data/marker')).exitCode).toBe(0);
    const device = await volumeDevice('restarted');
    expect(device).toMatch(/^\/dev\/loop\d+$/);
    await driver.stop('restarted', { graceSeconds: 1 });

    // What a host restart does to the device, then another filesystem on the same device number:
    // another tenant's disk attached first after the restart, say.
    const scratch = await mkdtemp(join(tmpdir(), `bulkhead-${ns.namespace}-`));
    const contents = join(scratch, 'contents');
    const image = join(scratch, 'other.img');
    try {
      await run('mkdir', [contents]);
      await writeFile(join(contents, 'intruder'), 'not yours\n');
      await run('truncate', ['-s', '32M', image]);
      await run('mkfs.ext4', ['-q', '-F', '-d', contents, image]);
      await run('losetup', ['-d', device!]);
      await run('losetup', [device!, image]);

      const again = await up(record);
      expect((await inTenant(again, 'cat /data/marker')).output).toBe('kept\n');
      expect((await inTenant(again, 'ls /data')).output).not.toMatch(/intruder/);
      expect(await volumeDevice('restarted')).not.toBe(device);
    } finally {
      await run('losetup', ['-d', device!]).catch(() => undefined);
      await rm(scratch, { recursive: true, force: true });
    }
    await driver.remove('restarted', { purgeData: true });
  });

  it('is detached and removed by the purge, leaving no loop device and no volume', async () => {
    await manager.ensure(tenant('purged', 100_304, 32));
    const placement = driver.placement('purged', 0);
    expect(await devicesHolding(placement)).toHaveLength(1);
    await driver.remove('purged', { purgeData: true });
    expect(await devicesHolding(placement)).toEqual([]);
    const { Volumes } = await ns.docker.listVolumes({ filters: { name: [diskVolumeName(placement)] } });
    expect(Volumes ?? []).toEqual([]);
  });
});
