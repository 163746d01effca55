// Every security default of a tenant container, pinned by exact expectations (docs/architecture.md, "Tenant containers").
import { describe, expect, it } from 'vitest';
import {
  GVISOR_PIDS_HEADROOM,
  buildContainerSpec,
  buildVolumeInitSpec,
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

describe('buildVolumeInitSpec', () => {
  it('hands the volume to the tenant UID with only CAP_CHOWN and no network', () => {
    const init = buildVolumeInitSpec(spec, placement);
    expect(init.Entrypoint).toEqual(['/bin/sh', '-c', 'chmod 0700 /data && chown 100007:100007 /data']);
    expect(init.HostConfig).toMatchObject({
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: ['CHOWN'],
      SecurityOpt: ['no-new-privileges:true'],
      CgroupParent: 'bulkhead-tenants.slice',
    });
  });

  it("makes the volume with the tenant's labels, so that its create is the volume's", () => {
    const [mount] = buildVolumeInitSpec(spec, placement).HostConfig?.Mounts ?? [];
    expect(mount).toMatchObject({
      Type: 'volume',
      Source: placement.volumeName,
      VolumeOptions: {
        NoCopy: true,
        Labels: {
          'io.bulkhead.managed': 'true',
          'io.bulkhead.namespace': placement.namespace,
          'io.bulkhead.tenant': spec.tenantId,
        },
      },
    });
  });
});
