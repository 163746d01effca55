// The engine-side isolation checks against the hardened spec: the spec passes every check, and each
// single weakening fails exactly the check that names its control (no check passes by accident).
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  buildContainerSpec,
  GVISOR_PIDS_HEADROOM,
  type Placement,
} from '../../supervisor/docker/container-spec.ts';
import type { RuntimeSpec } from '../../supervisor/runtime/runtime-driver.ts';
import { containerChecks } from '../../supervisor/verify/container-checks.ts';
import { tenantRecord } from '../support/tenant.ts';

const tenant = tenantRecord('acme', { uid: 100_007 });
const spec: RuntimeSpec = {
  tenantId: 'acme',
  uid: tenant.uid,
  image: 'bulkhead/runtime:latest',
  isolation: 'runc',
  plan: tenant.plan,
  env: {},
};
const placement: Placement = {
  namespace: 'prod',
  socketDir: '/var/lib/bulkhead/run/prod/acme',
  volumeName: 'bulkhead-prod-acme-data',
  containerName: 'bulkhead-prod-acme',
  generation: 1,
};

type Create = Docker.ContainerCreateOptions;

/** What the engine's inspect reports for a container created from these options (the fields checked). */
function inspectOf(options: Create): Docker.ContainerInspectInfo {
  const host = options.HostConfig ?? {};
  return {
    Id: 'c0ffee',
    Config: { User: options.User, Labels: options.Labels, NetworkDisabled: options.NetworkDisabled },
    HostConfig: host,
    NetworkSettings: { Networks: { [host.NetworkMode ?? 'bridge']: {} } },
    Mounts: (host.Mounts ?? []).map((m) =>
      m.Type === 'volume'
        ? {
            Type: 'volume',
            Name: m.Source,
            Source: `/var/lib/docker/volumes/${m.Source}/_data`,
            Destination: m.Target,
          }
        : { Type: m.Type, Source: m.Source, Destination: m.Target },
    ),
  } as unknown as Docker.ContainerInspectInfo;
}

const hardened = buildContainerSpec(spec, placement);
const failing = (options: Create) =>
  containerChecks(inspectOf(options), tenant, placement)
    .filter((c) => !c.pass)
    .map((c) => c.id);
const withHost = (host: Partial<NonNullable<Create['HostConfig']>>): Create => ({
  ...hardened,
  HostConfig: { ...hardened.HostConfig, ...host },
});

describe('containerChecks', () => {
  it('passes every control on the hardened spec', () => {
    const checks = containerChecks(inspectOf(hardened), tenant, placement);
    expect(checks.filter((c) => !c.pass)).toEqual([]);
    expect(checks.length).toBeGreaterThanOrEqual(18);
  });

  it.each([
    [
      'network.none',
      { ...hardened, NetworkDisabled: false, HostConfig: { ...hardened.HostConfig, NetworkMode: 'bridge' } },
    ],
    ['rootfs.readonly', withHost({ ReadonlyRootfs: false })],
    ['tmpfs.capped', withHost({ Tmpfs: { '/tmp': 'rw' } })],
    ['capabilities.none', withHost({ CapAdd: ['NET_ADMIN'] })],
    ['no-new-privileges', withHost({ SecurityOpt: [] })],
    ['seccomp.default', withHost({ SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined'] })],
    ['privileged.off', withHost({ Privileged: true })],
    ['namespaces.private', withHost({ PidMode: 'host' })],
    // Joined to a neighbour's namespace (another tenant's container), or open for others to join.
    ['namespaces.private', withHost({ PidMode: 'container:5ca1ab1e' })],
    ['namespaces.private', withHost({ IpcMode: 'container:5ca1ab1e' })],
    ['namespaces.private', withHost({ IpcMode: 'shareable' })],
    ['namespaces.private', withHost({ CgroupnsMode: 'host' } as Partial<NonNullable<Create['HostConfig']>>)],
    ['user.tenant-uid', withHost({ GroupAdd: ['0'] })],
    [
      'devices.none',
      withHost({
        Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
      }),
    ],
    ['devices.none', withHost({ DeviceCgroupRules: ['c 10:229 rwm'] })],
    ['devices.none', withHost({ DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] })],
    ['user.tenant-uid', { ...hardened, User: '0:0' }],
    ['limits.memory', withHost({ MemorySwap: -1 })],
    ['limits.cpu', withHost({ CpuQuota: -1 })],
    ['limits.cpu', withHost({ CpuQuota: 1_000_000 })],
    ['limits.cpu', withHost({ CpuQuota: 0, CpuPeriod: 0, NanoCpus: 1_000_000_000 })],
    ['limits.pids', withHost({ PidsLimit: 0 })],
    ['cgroup.tenants', withHost({ CgroupParent: '' })],
    ['cgroup.tenants', withHost({ CgroupParent: '/docker' })],
    ['oom.tenant-first', withHost({ OomScoreAdj: 0 })],
    ['oom.tenant-first', withHost({ OomScoreAdj: -500 })],
    ['init', withHost({ Init: false })],
    ['runtime.tier', withHost({ Runtime: 'runsc' })],
    ['logs.capped', withHost({ LogConfig: { Type: 'json-file', Config: {} } })],
  ] as [string, Create][])('fails exactly %s when that control is weakened', (control, weakened) => {
    expect(failing(weakened)).toEqual([control]);
  });

  it('fails limits.cpu for a container created with a start-time boost still in force', () => {
    const boosted = buildContainerSpec(spec, placement, { startCpuQuota: 2_000_000 });
    expect(failing(boosted)).toEqual(['limits.cpu']);
  });

  it("accepts the plan's share as NanoCpus, as containers made before the 1 s period hold it", () => {
    const legacy = withHost({ CpuQuota: 0, CpuPeriod: 0, NanoCpus: 500_000_000 });
    expect(failing(legacy)).toEqual([]);
  });

  it('names both the Docker socket and the foreign mount when the socket is mounted in', () => {
    const weakened = withHost({
      Mounts: [
        ...(hardened.HostConfig?.Mounts ?? []),
        { Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock', ReadOnly: true },
      ],
    });
    expect(failing(weakened)).toEqual(['docker-socket.absent', 'mounts.own-only']);
  });

  it('expects the gVisor tier its PIDs headroom, as the spec builder gives it', () => {
    const shielded = { ...tenant, isolation: 'gvisor' as const };
    const gvisor = buildContainerSpec({ ...spec, isolation: 'gvisor' }, placement);
    const checks = containerChecks(inspectOf(gvisor), shielded, placement);
    expect(checks.filter((c) => !c.pass)).toEqual([]);
    expect(checks.find((c) => c.id === 'limits.pids')?.why).toBe(
      `PidsLimit ${tenant.plan.pids + GVISOR_PIDS_HEADROOM} (plan ${tenant.plan.pids} + the runsc sandbox's own threads)`,
    );
    // The plan's bare limit on a gVisor container is not the tier's limit: it fails.
    const bare = containerChecks(inspectOf(withHost({ Runtime: 'runsc' })), shielded, placement);
    expect(bare.filter((c) => !c.pass).map((c) => c.id)).toEqual(['limits.pids']);
  });
});
