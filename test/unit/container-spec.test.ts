// Every security default of a tenant container, pinned by exact expectations (docs/architecture.md, "Tenant containers").
import {
  attachedDevice,
  attachHelper,
  buildDiskHelperSpec,
  dataVolumeOptions,
  diskImageName,
  diskVolumeName,
} from '../../supervisor/docker/tenant-disk.ts';
import { describe, expect, it } from 'vitest';
import {
  GVISOR_PIDS_HEADROOM,
  buildContainerSpec,
  containerDefaultsHash,
  type Placement,
} from '../../supervisor/docker/container-spec.ts';
import type { RuntimeSpec } from '../../supervisor/runtime/runtime-driver.ts';
import { specHash } from '../../supervisor/runtime/runtime-spec.ts';

const spec: RuntimeSpec = {
  tenantId: 'acme',
  uid: 100_007,
  image: 'bulkhead/runtime:latest',
  isolation: 'runc',
  plan: { name: 'small', memoryMb: 128, cpus: 0.5, pids: 64, tmpMb: 16 },
  env: { BULKHEAD_ROUTER_PUBLIC_KEY: 'PEM' },
};
const placement: Placement = {
  namespace: 'prod',
  socketDir: '/var/lib/bulkhead/run/prod/acme',
  volumeName: 'bulkhead-prod-acme-data',
  containerName: 'bulkhead-prod-acme',
  generation: 3,
};

describe('buildContainerSpec', () => {
  it('holds every hardening default', () => {
    expect(buildContainerSpec(spec, placement)).toEqual({
      name: 'bulkhead-prod-acme',
      Image: 'bulkhead/runtime:latest',
      User: '100007:100007',
      Env: [
        'BULKHEAD_DATA_DIR=/data',
        'BULKHEAD_PACK_CONFINEMENT=landlock',
        'BULKHEAD_ROUTER_PUBLIC_KEY=PEM',
        'BULKHEAD_SOCKET_PATH=/run/mcp/mcp.sock',
        'BULKHEAD_TENANT_ID=acme',
      ],
      Labels: {
        'io.bulkhead.managed': 'true',
        'io.bulkhead.namespace': 'prod',
        'io.bulkhead.tenant': 'acme',
        'io.bulkhead.spec-hash': specHash(spec),
        'io.bulkhead.generation': '3',
        // How this code builds a container, whatever the tenant: another one is replaced.
        'io.bulkhead.defaults': containerDefaultsHash('runc'),
      },
      NetworkDisabled: true,
      StopTimeout: 10,
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        CapAdd: [],
        SecurityOpt: ['no-new-privileges:true'],
        Privileged: false,
        Init: true,
        Runtime: 'runc',
        // Every tenant under one parent cgroup, apart from the control plane's containers.
        CgroupParent: 'bulkhead-tenants.slice',
        // Under host memory pressure a tenant's process is killed before the control plane's.
        OomScoreAdj: 500,
        Memory: 128 * 1024 * 1024,
        MemorySwap: 128 * 1024 * 1024,
        // Plan small's 0.5 CPU as half of a 1 s period: the same share, a start may burst.
        CpuPeriod: 1_000_000,
        CpuQuota: 500_000,
        PidsLimit: 64,
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=16m' },
        Mounts: [
          { Type: 'bind', Source: '/var/lib/bulkhead/run/prod/acme', Target: '/run/mcp', ReadOnly: false },
          {
            Type: 'volume',
            Source: 'bulkhead-prod-acme-data',
            Target: '/data',
            ReadOnly: false,
            VolumeOptions: { NoCopy: true },
          },
        ],
        IpcMode: 'private',
        CgroupnsMode: 'private',
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
      },
    });
  });

  it('runs the gVisor tier on runsc with PIDs headroom for the sandbox, and nothing else changes', () => {
    const runc = buildContainerSpec(spec, placement);
    const gvisor = buildContainerSpec({ ...spec, isolation: 'gvisor' }, placement);
    expect(gvisor.HostConfig?.Runtime).toBe('runsc');
    // gVisor implements no Landlock: its packs are bounded by the sandbox alone.
    expect(gvisor.Env).toContain('BULKHEAD_PACK_CONFINEMENT=sandbox');
    // The only other difference: PIDs headroom for the sandbox's own threads.
    expect(gvisor.HostConfig?.PidsLimit).toBe(64 + GVISOR_PIDS_HEADROOM);
    expect({ ...gvisor.HostConfig, Runtime: 'runc', PidsLimit: 64 }).toEqual(runc.HostConfig);
  });

  it('never mounts the Docker socket or joins a host namespace', () => {
    const built = JSON.stringify(buildContainerSpec(spec, placement));
    expect(built).not.toContain('docker.sock');
    const host = buildContainerSpec(spec, placement).HostConfig!;
    expect(host.PidMode).toBeUndefined();
    expect(host.UTSMode).toBeUndefined();
    expect(host.NetworkMode).toBe('none');
    expect(host.Binds).toBeUndefined();
  });
});

describe('specHash', () => {
  it('is stable for the same spec whatever the key order', () => {
    const reordered: RuntimeSpec = {
      env: { ...spec.env },
      plan: { tmpMb: 16, pids: 64, cpus: 0.5, memoryMb: 128, name: 'small' },
      isolation: 'runc',
      image: spec.image,
      uid: spec.uid,
      tenantId: spec.tenantId,
    };
    expect(specHash(reordered)).toBe(specHash(spec));
  });

  it('changes when anything that shapes the container changes', () => {
    const base = specHash(spec);
    expect(specHash({ ...spec, image: 'bulkhead/runtime:next' })).not.toBe(base);
    expect(specHash({ ...spec, isolation: 'gvisor' })).not.toBe(base);
    expect(specHash({ ...spec, plan: { ...spec.plan, memoryMb: 256 } })).not.toBe(base);
    expect(specHash({ ...spec, env: { BULKHEAD_ROUTER_PUBLIC_KEY: 'OTHER' } })).not.toBe(base);
  });
});

describe('containerDefaultsHash', () => {
  it("is the same whatever the tenant's spec, and another on each tier", () => {
    const other: RuntimeSpec = {
      ...spec,
      tenantId: 'initech',
      uid: 100_008,
      plan: { name: 'large', memoryMb: 512, cpus: 2, pids: 256, tmpMb: 64 },
      env: {},
    };
    const label = (built: RuntimeSpec): string | undefined =>
      buildContainerSpec(built, placement).Labels?.['io.bulkhead.defaults'];
    expect(label(other)).toBe(label(spec));
    expect(label({ ...spec, isolation: 'gvisor' })).toBe(containerDefaultsHash('gvisor'));
    expect(containerDefaultsHash('gvisor')).not.toBe(containerDefaultsHash('runc'));
    expect(containerDefaultsHash('runc')).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('buildDiskHelperSpec', () => {
  const image = 'bulkhead/runtime:tools';
  const helper = (mode: 'attach' | 'release') =>
    buildDiskHelperSpec(
      mode === 'attach'
        ? attachHelper(spec, placement, image)
        : { tenantId: spec.tenantId, placement, image, mode },
    );

  it("runs the supervisor's image as root with CAP_SYS_ADMIN alone, the loop devices alone, no network", () => {
    const init = helper('attach');
    expect(init.Image).toBe('bulkhead/runtime:tools');
    expect(init.User).toBe('0:0');
    expect(init.HostConfig).toMatchObject({
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: ['SYS_ADMIN'],
      SecurityOpt: ['no-new-privileges:true'],
      CgroupParent: 'bulkhead-tenants.slice',
      DeviceCgroupRules: ['c 10:237 rwm', 'b 7:* rwm'],
    });
    expect(init.HostConfig?.Privileged).toBeUndefined();
    expect(init.HostConfig?.Devices).toBeUndefined();
  });

  it("formats the image at the plan's size for the tenant's UID, and names the tenant's image alone", () => {
    const [, , script, , image, bytes, uid] = helper('attach').Entrypoint as string[];
    expect(script).toContain('mkfs.ext4');
    expect(script).toContain('root_owner="$3:$3"');
    expect(script).toContain('sif <2> mode 040700');
    expect([image, bytes, uid]).toEqual([diskImageName(placement), String(256 * 1024 * 1024), '100007']);
    expect(diskImageName(placement)).toBe(`${placement.volumeName}.img`);
    const released = helper('release').Entrypoint as string[];
    expect(released[2]).toContain('losetup -d');
    expect(released[2]).not.toContain('mkfs');
    expect(released.slice(4)).toEqual([diskImageName(placement)]);
  });

  it("mounts the host's /dev and the tenant's disk volume, made with the tenant's labels, and no other", () => {
    expect(helper('attach').HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: '/dev', Target: '/dev', ReadOnly: false },
      {
        Type: 'volume',
        Source: diskVolumeName(placement),
        Target: '/disk',
        ReadOnly: false,
        VolumeOptions: {
          NoCopy: true,
          Labels: {
            'io.bulkhead.managed': 'true',
            'io.bulkhead.namespace': placement.namespace,
            'io.bulkhead.tenant': spec.tenantId,
          },
        },
      },
    ]);
  });

  it('mounts the data volume as ext4 on the device the attach named, and reads that device back', () => {
    expect(dataVolumeOptions(placement, 'acme', '/dev/loop12')).toMatchObject({
      Name: placement.volumeName,
      Driver: 'local',
      DriverOpts: { type: 'ext4', device: '/dev/loop12' },
    });
    expect(attachedDevice('device=/dev/loop3\ndevice=/dev/loop12\n')).toBe('/dev/loop12');
    expect(attachedDevice('device=/dev/sda\n')).toBeUndefined();
    expect(attachedDevice('device=/dev/loop1; rm -rf /\n')).toBeUndefined();
  });
});
