// The dockerode driver against the real engine: hardening as the engine reports it, probes from
// inside the container, one container per tenant under concurrency, tenant separation, and a stop
// of a container removed since it was inspected.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import {
  TENANT_CGROUP_PARENT,
  buildContainerSpec,
  containerDefaultsHash,
} from '../../supervisor/docker/container-spec.ts';
import { specHash } from '../../supervisor/runtime/runtime-spec.ts';
import { hostCgroup } from '../../supervisor/docker/host-cgroup.ts';
import type { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { tenantRecord } from '../support/tenant.ts';
import { driverHarness } from '../support/driver-harness.ts';
import { DEEP_TREE_SCRIPT } from '../support/deep-tree.ts';
import { execIn, RUNTIME_IMAGE, type TestNamespace } from '../support/namespace.ts';
import { attachHelper, buildDiskHelperSpec, diskVolumeName } from '../../supervisor/docker/tenant-disk.ts';

let ns: TestNamespace;
let driver: DockerDriver;
let manager: RuntimeController;

function tenant(id: string, uid: number): TenantRecord {
  return tenantRecord(id, { uid });
}

beforeAll(async () => {
  ({ ns, driver, manager } = await driverHarness('driver'));
});

afterAll(async () => {
  await ns.cleanup();
});

async function containersOf(tenantId: string): Promise<string[]> {
  const list = await ns.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.tenant}=${tenantId}`] },
  });
  return list.map((c) => c.Id);
}

/** A tenant's containers, every volume-init helper of the namespace, and the tenant's volumes. */
async function leftovers(tenantId: string) {
  const helpers = await ns.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.role}=volume-init`] },
  });
  const { Volumes } = await ns.docker.listVolumes({
    filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.tenant}=${tenantId}`] },
  });
  return { containers: await containersOf(tenantId), helpers, volumes: Volumes ?? [] };
}

/**
 * The engine's client for a driver that finds each container removed (for real, by the engine) right
 * after it inspected it: an operator's `docker rm -f`, or another path's reap, between two calls.
 */
function removedAfterInspect(): Docker {
  const docker = new Docker();
  const getContainer = docker.getContainer.bind(docker);
  docker.getContainer = (id: string) => {
    const container = getContainer(id);
    const inspect = container.inspect.bind(container) as () => Promise<Docker.ContainerInspectInfo>;
    container.inspect = (async () => {
      const info = await inspect();
      await container.remove({ force: true });
      return info;
    }) as typeof container.inspect;
    return container;
  };
  return docker;
}

/** Owner and mode of the volume's root, as the runtime sees it. */
async function dataRoot(runtimeId: string): Promise<string> {
  return (await execIn(ns.docker, runtimeId, ['stat', '-c', '%u %a', '/data'])).output.trim();
}

describe('DockerDriver on the real engine', () => {
  it('twenty concurrent ensures for one tenant make exactly one container', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => manager.ensure(tenant('crowd', 100_201))),
    );
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await containersOf('crowd')).toHaveLength(1);
  });

  it('starts a container that the engine reports with every hardening default', async () => {
    await manager.ensure(tenant('hardened', 100_202));
    // The start-time CPU boost ends after the runtime's first answer, off the caller's path
    // (docs/cpu-boost.md): the plan's quota is the one to check once it has.
    await manager.cpuBoostSettled('hardened');
    const [id] = await containersOf('hardened');
    const info = await ns.docker.getContainer(id!).inspect();
    const host = info.HostConfig;
    expect(info.State.Running).toBe(true);
    expect(info.Config.User).toBe('100202:100202');
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.SecurityOpt).toContain('no-new-privileges:true');
    // No seccomp override: the engine's default profile applies.
    const securityOpts: string[] = host.SecurityOpt ?? [];
    expect(securityOpts.filter((opt) => opt.startsWith('seccomp'))).toEqual([]);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Privileged).toBe(false);
    expect(host.Init).toBe(true);
    expect(host.NetworkMode).toBe('none');
    expect(host.Memory).toBe(128 * 1024 * 1024);
    expect(host.MemorySwap).toBe(128 * 1024 * 1024);
    // Plan small's 0.5 CPU: half of each 1 s period, and no NanoCpus (which would fix 100 ms).
    expect(host.CpuPeriod).toBe(1_000_000);
    expect(host.CpuQuota).toBe(500_000);
    expect(host.NanoCpus ?? 0).toBe(0);
    expect(host.PidsLimit).toBe(64);
    expect(host.Runtime).toBe('runc');
    expect(host.PidMode).toBe('');
    expect(host.IpcMode).toBe('private');
    expect(host.Tmpfs).toEqual({ '/tmp': 'rw,noexec,nosuid,nodev,size=16m' });
    expect(host.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
    expect(info.Mounts.map((m) => m.Destination).sort()).toEqual(['/data', '/run/mcp']);
    expect(JSON.stringify(info.Mounts)).not.toContain('docker.sock');
    expect(info.Config.Labels[LABELS.tenant]).toBe('hardened');
    expect(info.Config.Labels[LABELS.specHash]).toMatch(/^[0-9a-f]{16}$/);
    // Under the tenants' own parent cgroup, as the host kernel keeps it: a sibling of the control
    // plane's containers, not one more among them.
    expect(host.CgroupParent).toBe(TENANT_CGROUP_PARENT);
    const cgroup = await hostCgroup(info.State.Pid, 'cpu');
    // cgroupfs: <parent>/<id>; the systemd driver: <parent>/docker-<id>.scope.
    expect(cgroup?.dir).toContain(`/${TENANT_CGROUP_PARENT}/`);
    expect(cgroup?.dir).toContain(id!);
  });

  it('is confined when probed from inside', async () => {
    const [id] = await containersOf('hardened');
    expect((await execIn(ns.docker, id!, ['id', '-u'])).output.trim()).toBe('100202');
    expect((await execIn(ns.docker, id!, ['ls', '/sys/class/net'])).output.trim()).toBe('lo');
    expect((await execIn(ns.docker, id!, ['touch', '/bulkhead-escape'])).exitCode).not.toBe(0);
    expect((await execIn(ns.docker, id!, ['ls', '/var/run/docker.sock'])).exitCode).not.toBe(0);
    const caps = (await execIn(ns.docker, id!, ['grep', 'CapEff', '/proc/self/status'])).output;
    expect(caps).toMatch(/CapEff:\s+0000000000000000/);
    const nnp = (await execIn(ns.docker, id!, ['grep', 'NoNewPrivs', '/proc/self/status'])).output;
    expect(nnp).toMatch(/NoNewPrivs:\s+1/);
    // The CPU share as the kernel enforces it (cgroup v1, the container's own cgroup namespace):
    // 0.5 CPU-s per 1 s period, plan small's half CPU.
    const cfs = await execIn(ns.docker, id!, [
      'cat',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
    ]);
    expect(cfs.output.split('\n').filter(Boolean)).toEqual(['500000', '1000000']);
    // The OOM killer's first choice: +500. The tenant may lower its own score to 0, the control
    // plane's default, and no further (below that takes CAP_SYS_RESOURCE).
    expect((await execIn(ns.docker, id!, ['cat', '/proc/1/oom_score_adj'])).output.trim()).toBe('500');
    const lowered = await execIn(ns.docker, id!, ['sh', '-c', 'echo -1 > /proc/self/oom_score_adj']);
    expect(lowered.exitCode).not.toBe(0);
    // The refused write's message goes to /dev/null: stderr and stdout reach the exec's output in
    // either order, so it could come after the score read last.
    const floor = await execIn(ns.docker, id!, [
      'sh',
      '-c',
      'echo 0 > /proc/self/oom_score_adj && { echo -500 > /proc/self/oom_score_adj; } 2>/dev/null; echo "refused=$?"; cat /proc/self/oom_score_adj',
    ]);
    expect(floor.output.trim().split('\n')).toEqual(['refused=1', '0']);
  });

  it("gives each tenant its own UID, volume and socket directory, and shows no other tenant's", async () => {
    await manager.ensure(tenant('other', 100_203));
    const [hardened] = await containersOf('hardened');
    const [other] = await containersOf('other');
    const a = await ns.docker.getContainer(hardened!).inspect();
    const b = await ns.docker.getContainer(other!).inspect();
    const sources = (info: typeof a) => info.Mounts.map((m) => m.Name ?? m.Source);
    expect(sources(a).filter((s) => sources(b).includes(s))).toEqual([]);
    expect(a.Config.User).not.toBe(b.Config.User);
    const seen = await execIn(ns.docker, other!, ['ls', '-a', '/run/mcp']);
    // Its own runtime's socket and (once the runtime has started it) its egress bridge's, nothing else.
    const entries = seen.output.split('\n').filter(Boolean).sort();
    expect(entries.filter((f) => f !== 'egress.sock')).toEqual(['.', '..', 'mcp.sock']);
    const data = await execIn(ns.docker, other!, ['ls', '-ln', '/data']);
    expect(data.output).not.toContain('100202');
  });

  it('reuses the container when the spec is unchanged and recycles it when the spec changes', async () => {
    const before = await driver.inspect('hardened');
    await manager.ensure(tenant('hardened', 100_202));
    expect((await driver.inspect('hardened'))?.runtimeId).toBe(before?.runtimeId);
    await manager.ensure({
      ...tenant('hardened', 100_202),
      plan: { name: 'small', memoryMb: 160, cpus: 0.5, pids: 64, tmpMb: 16 },
    });
    const after = await driver.inspect('hardened');
    expect(after?.runtimeId).not.toBe(before?.runtimeId);
    expect(after?.generation).toBe((before?.generation ?? 0) + 1);
    expect(await containersOf('hardened')).toHaveLength(1);
  });

  it('replaces a container an older supervisor built with other defaults, never reuses it', async () => {
    // As a supervisor from before the tenants' parent cgroup and OOM score built it: the same
    // tenant spec (its spec hash matches), neither of those, and no defaults label.
    const record = tenant('legacy', 100_205);
    const spec = manager.specFor(record);
    const placement = driver.placement('legacy', 1);
    await manager.ensure(record);
    await manager.remove('legacy', false);
    const current = buildContainerSpec(spec, placement);
    const { [LABELS.defaults]: _defaults, ...labels } = current.Labels!;
    const { CgroupParent: _parent, OomScoreAdj: _score, ...host } = current.HostConfig!;
    const old = await ns.docker.createContainer({ ...current, Labels: labels, HostConfig: host });
    await old.start();
    expect((await driver.inspect('legacy'))?.specHash).toBe('');

    await manager.ensure(record);
    const [id] = await containersOf('legacy');
    expect(id).not.toBe(old.id);
    const info = await ns.docker.getContainer(id!).inspect();
    expect(info.HostConfig.CgroupParent).toBe(TENANT_CGROUP_PARENT);
    expect(info.Config.Labels[LABELS.defaults]).toBe(containerDefaultsHash('runc'));
    expect((await driver.inspect('legacy'))?.specHash).toBe(specHash(spec));
  });

  it('removes the container, and with purge also the volume and socket directory', async () => {
    await manager.remove('other', true);
    expect(await containersOf('other')).toEqual([]);
    const { Volumes } = await ns.docker.listVolumes({
      filters: { name: [`bulkhead-${ns.namespace}-other-data`] },
    });
    expect(Volumes ?? []).toEqual([]);
  });

  it('leaves no container, helper or data volume after a failed disk attach, so the next ensure starts clean', async () => {
    const spec = manager.specFor(tenant('init-fails', 100_209));
    // A disk of no size: mkfs refuses it.
    const sizeless = { ...spec, plan: { ...spec.plan, diskMb: 0 } };
    await expect(driver.ensure(sizeless, { generation: 0 })).rejects.toThrow(
      /disk attach for init-fails exited 1/,
    );
    const disk = diskVolumeName(driver.placement('init-fails', 0));
    // The disk's volume is kept: an attach that fails never destroys what may be a tenant's data.
    expect(await leftovers('init-fails')).toMatchObject({
      containers: [],
      helpers: [],
      volumes: [{ Name: disk }],
    });

    const info = await driver.ensure(spec, { generation: 0 });
    expect(info.state).toBe('running');
    expect(await dataRoot(info.runtimeId)).toBe('100209 700');
    // Removed by the time the ensure returned.
    expect((await leftovers('init-fails')).helpers).toEqual([]);
    await driver.remove('init-fails', { purgeData: true });
    expect(await leftovers('init-fails')).toEqual({ containers: [], helpers: [], volumes: [] });
  });

  it('finishes a disk attach that a crash interrupted before the runtime is created', async () => {
    const spec = manager.specFor(tenant('init-crashed', 100_210));
    const placement = driver.placement('init-crashed', 0);
    // What a supervisor that died just after making the helper leaves: the disk's volume, and the
    // helper never started; no data volume, which is made only once the disk is attached.
    await ns.docker.createContainer(buildDiskHelperSpec(attachHelper(spec, placement, RUNTIME_IMAGE)));
    expect((await leftovers('init-crashed')).volumes.map((v) => v.Name)).toEqual([diskVolumeName(placement)]);

    const info = await driver.ensure(spec, { generation: 0 });
    expect(await dataRoot(info.runtimeId)).toBe('100210 700');
    expect((await leftovers('init-crashed')).helpers).toEqual([]);
    await driver.remove('init-crashed', { purgeData: true });
    expect(await leftovers('init-crashed')).toEqual({ containers: [], helpers: [], volumes: [] });
  });

  it('removes a leftover helper and keeps the disk it was attaching, which purge removes', async () => {
    const placement = driver.placement('init-stray', 0);
    const spec = manager.specFor(tenant('init-stray', 100_211));
    const unfinished = await ns.docker.createContainer(
      buildDiskHelperSpec(attachHelper(spec, placement, RUNTIME_IMAGE)),
    );
    await driver.removeById(unfinished.id);
    expect(await leftovers('init-stray')).toMatchObject({ containers: [], helpers: [] });
    expect((await leftovers('init-stray')).volumes.map((v) => v.Name)).toEqual([diskVolumeName(placement)]);
    await driver.remove('init-stray', { purgeData: true });
    expect(await leftovers('init-stray')).toEqual({ containers: [], helpers: [], volumes: [] });
  });

  it('purges every container of the tenant, a duplicate and a helper too, and finds nothing left', async () => {
    const t = tenant('purge-all', 100_213);
    await manager.ensure(t);
    const placement = driver.placement('purge-all', 0);
    const spec = manager.specFor(t);
    // A second container labelled for the tenant, and a helper, each holding the volume as well.
    await ns.docker.createContainer({
      ...buildContainerSpec(spec, placement),
      name: `${placement.containerName}-extra`,
    });
    await ns.docker.createContainer(buildDiskHelperSpec(attachHelper(spec, placement, RUNTIME_IMAGE)));
    await manager.remove('purge-all', true);
    expect(await leftovers('purge-all')).toEqual({ containers: [], helpers: [], volumes: [] });
    expect(existsSync(placement.socketDir)).toBe(false);
  });

  it('fails a purge that cannot remove the volume, and names the container not ours that holds it', async () => {
    const t = tenant('purge-held', 100_214);
    await manager.ensure(t);
    const placement = driver.placement('purge-held', 0);
    const foreign = await ns.docker.createContainer({
      name: `${ns.namespace}-foreign`,
      Image: manager.specFor(t).image,
      Entrypoint: ['true'],
      HostConfig: {
        NetworkMode: 'none',
        Mounts: [{ Type: 'volume', Source: placement.volumeName, Target: '/held' }],
      },
    });
    try {
      await expect(manager.remove('purge-held', true)).rejects.toThrow(
        `the purge of purge-held left container ${ns.namespace}-foreign (not ours), data volume ${placement.volumeName}`,
      );
      // Ours are gone all the same.
      expect(await containersOf('purge-held')).toEqual([]);
    } finally {
      await foreign.remove({ force: true });
    }
    await manager.remove('purge-held', true);
    expect(await leftovers('purge-held')).toEqual({ containers: [], helpers: [], volumes: [] });
  });

  it('stops and purges a tenant that filled its socket directory: a tree past the path limit, a directory where its secrets go', async () => {
    const t = tenant('flooder', 100_215);
    await manager.ensure(t);
    const [id] = await containersOf('flooder');
    // From inside, as the tenant, with relative paths: no path it uses passes the limit there.
    await execIn(ns.docker, id!, ['mkdir', '/run/mcp/.secrets.json']);
    const planted = await execIn(ns.docker, id!, ['node', '-e', DEEP_TREE_SCRIPT, '/run/mcp']);
    expect(planted.output).toContain('planted');
    const placement = driver.placement('flooder', 0);
    // Stopping removes what is where its secrets go, a directory now.
    await driver.stop('flooder', { graceSeconds: 1 });
    expect(existsSync(join(placement.socketDir, '.secrets.json'))).toBe(false);
    // 300 levels of 21 characters: 6,300, past the 4,096 a path may have.
    await manager.remove('flooder', true);
    expect(existsSync(placement.socketDir)).toBe(false);
    expect(await leftovers('flooder')).toEqual({ containers: [], helpers: [], volumes: [] });
  }, 60_000);

  it('empties the socket directory once per cold start, and in an ensure whose caller did not', async () => {
    const prepare = vi.spyOn(driver, 'prepareSocketDir');
    try {
      await manager.ensure(tenant('prepared', 100_217));
      expect(prepare).toHaveBeenCalledTimes(1);
      await manager.remove('prepared', true);
      prepare.mockClear();
      const spec = manager.specFor(tenant('unprepared', 100_218));
      const info = await driver.ensure(spec, { generation: 0 });
      expect(info.state).toBe('running');
      expect(prepare).toHaveBeenCalledTimes(1);
      await driver.remove('unprepared', { purgeData: true });
    } finally {
      prepare.mockRestore();
    }
  }, 60_000);

  it('stops quietly a running container removed between its inspect and its stop: nothing left to stop', async () => {
    await manager.ensure(tenant('fleeting', 100_216));
    expect(await containersOf('fleeting')).toHaveLength(1);
    const racing = new DockerDriver({
      toolImage: RUNTIME_IMAGE,
      namespace: ns.namespace,
      runDir: ns.runDir,
      routerGid: 0,
      logger: pino({ level: 'silent' }),
      docker: removedAfterInspect(),
    });
    // The engine answers the stop 404; a removal takes the same 404 for gone.
    await expect(racing.stop('fleeting', { graceSeconds: 1 })).resolves.toBeUndefined();
    expect(await containersOf('fleeting')).toEqual([]);
    await manager.remove('fleeting', true);
    expect(await leftovers('fleeting')).toEqual({ containers: [], helpers: [], volumes: [] });
  }, 60_000);
});
