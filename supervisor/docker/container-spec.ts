// Every security default of a tenant container lives in this one pure function (docs/architecture.md
// "Tenant containers", CIS Docker Benchmark section 5). It is tested by exact expectations: a weakened
// default is a failing test, not a review comment.
import { createHash } from 'node:crypto';
import { PACKS_DIR } from '../../kernel/packs/enabled-packs.ts';
import { canonicalJson } from '../../kernel/tools/tool-definition.ts';
import type Docker from 'dockerode';
import {
  CONTAINER_DATA_DIR,
  CONTAINER_SOCKET_DIR,
  CONTAINER_SOCKET_NAME,
} from '../../kernel/wire/runtime-endpoint.ts';
import { cpuLimitFor } from '../runtime/runtime-cpu.ts';
import type { RuntimeSpec } from '../runtime/runtime-driver.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import { LABELS } from './labels.ts';
import { VOLUME_INIT_SUFFIX } from '../../kernel/tenant/tenant-spec.ts';

export interface Placement {
  /** Separates installations (and test runs) sharing one engine; part of every name and label. */
  namespace: string;
  /** Host directory holding only this tenant's socket, bind-mounted into this container only. */
  socketDir: string;
  volumeName: string;
  containerName: string;
  generation: number;
}

const MiB = 1024 * 1024;

type MountSettings = NonNullable<NonNullable<Docker.ContainerCreateOptions['HostConfig']>['Mounts']>[number];
// The engine needs only NoCopy; @types/dockerode marks the other volume options as required.
const NO_COPY = { NoCopy: true } as NonNullable<MountSettings['VolumeOptions']>;

/**
 * Under gVisor the host's PIDs cgroup counts the sandbox's own threads (the Go sentry and gofer),
 * not the tenant's processes: measured here, a limit of 64 kills the sentry at start (Go exits 2
 * when it cannot create a thread). The tenant's plan limit gets this headroom on top.
 */
export const GVISOR_PIDS_HEADROOM = 192;

/** The engine's PidsLimit for a plan on a tier: the one value the spec sets and `verify` expects. */
export function pidsLimitFor(plan: { pids: number }, isolation: RuntimeSpec['isolation']): number {
  return isolation === 'gvisor' ? plan.pids + GVISOR_PIDS_HEADROOM : plan.pids;
}

/**
 * The cgroup every tenant container is created under, apart from the control plane's. The kernel
 * divides a busy CPU between sibling cgroups by their weights, and every container the engine makes
 * is by default a sibling of every other: a router, supervisor or Redis in a container weighed as
 * much as one tenant, so a hundred busy tenants left it about a hundredth of a contended core, their
 * plans' quotas notwithstanding (each caps a tenant, not their sum). Under one parent, the tenants
 * together weigh as one sibling of the engine's own parent, which holds the control plane's
 * containers: a busy control plane keeps half of a contended CPU. A `.slice` name, because the engine's systemd
 * cgroup driver takes only a slice (not tried here); its cgroupfs driver makes the same name a
 * directory at the top of each hierarchy (docs/architecture.md, "Tenant containers").
 */
export const TENANT_CGROUP_PARENT = 'bulkhead-tenants.slice';

/**
 * Added to the OOM killer's score of every process in a tenant container (the engine's range is -1000
 * to 1000): when the host runs out of memory, a tenant's process goes before the router, the
 * supervisor or Redis, whose scores come from their size alone. Each tenant is held to its plan's
 * memory, but their sum may pass the host's, and the router's process is larger than a tenant's
 * (hundreds of MiB under load, against plan small's 192 MiB for a whole container), so on size alone
 * it would be the first killed. What it does not stop: a tenant's own process may lower its score to
 * 0, the control plane's default, and no further (below takes CAP_SYS_RESOURCE, which it lacks); a
 * control plane started with a score below 0 (systemd's OOMScoreAdjust, compose's oom_score_adj,
 * where the host's root may set one) stays out of its reach (docs/architecture.md).
 */
export const TENANT_OOM_SCORE_ADJ = 500;

export function runtimeName(isolation: RuntimeSpec['isolation']): 'runc' | 'runsc' {
  return isolation === 'gvisor' ? 'runsc' : 'runc';
}

/**
 * `startCpuQuota`: the quota the container is created with instead of the plan's (a start-time
 * boost, `startCpuLimitFor`); the caller puts the plan's back once the runtime has started. Labelled
 * with the hash of the defaults it was built with (`containerDefaultsHash`).
 */
export function buildContainerSpec(
  spec: RuntimeSpec,
  placement: Placement,
  options: { startCpuQuota?: number | undefined } = {},
): Docker.ContainerCreateOptions {
  const built = containerFrom(spec, placement, options);
  return { ...built, Labels: { ...built.Labels, [LABELS.defaults]: containerDefaultsHash(spec.isolation) } };
}

const defaultsHashes = new Map<RuntimeSpec['isolation'], string>();

/**
 * A hash of how this code builds a tenant container on a tier, whatever the tenant: what it builds
 * for one fixed spec and placement. The spec hash covers what a tenant's spec says, not the
 * defaults a supervisor adds to it, so without this a container made by a supervisor with other
 * defaults (one from before a hardening was added) would be reused as current until its maximum
 * age. Taken from the builder's own output, so changing a default changes it without anyone
 * having to remember to; the driver reports a container with another one as of another spec, which
 * the lifecycle replaces (docker-driver.ts).
 */
export function containerDefaultsHash(isolation: RuntimeSpec['isolation']): string {
  let hash = defaultsHashes.get(isolation);
  if (hash === undefined) {
    const reference = containerFrom(
      {
        tenantId: 'reference',
        uid: 1,
        image: 'reference',
        isolation,
        plan: { name: 'reference', memoryMb: 1, cpus: 1, pids: 1, tmpMb: 1 },
        env: {},
      },
      {
        namespace: 'reference',
        socketDir: '/reference',
        volumeName: 'reference',
        containerName: 'reference',
        generation: 0,
      },
      {},
    );
    hash = createHash('sha256').update(canonicalJson(reference)).digest('hex').slice(0, 16);
    defaultsHashes.set(isolation, hash);
  }
  return hash;
}

function containerFrom(
  spec: RuntimeSpec,
  placement: Placement,
  options: { startCpuQuota?: number | undefined },
): Docker.ContainerCreateOptions {
  const { plan } = spec;
  const cpu = cpuLimitFor(plan);
  const env = {
    ...spec.env,
    BULKHEAD_TENANT_ID: spec.tenantId,
    BULKHEAD_SOCKET_PATH: `${CONTAINER_SOCKET_DIR}/${CONTAINER_SOCKET_NAME}`,
    BULKHEAD_DATA_DIR: CONTAINER_DATA_DIR,
    // runtime-image/src/packs/pack-confinement.ts: gVisor implements no Landlock, so there the
    // sandbox is a pack's boundary; under runc a pack starts only confined.
    BULKHEAD_PACK_CONFINEMENT: spec.isolation === 'gvisor' ? 'sandbox' : 'landlock',
  };
  return {
    name: placement.containerName,
    Image: spec.image,
    // Its own non-root UID and GID: files in its volume and socket directory belong to no one else.
    User: `${spec.uid}:${spec.uid}`,
    Env: Object.entries(env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => `${key}=${value}`),
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.namespace]: placement.namespace,
      [LABELS.tenant]: spec.tenantId,
      [LABELS.specHash]: specHash(spec),
      [LABELS.generation]: String(placement.generation),
    },
    NetworkDisabled: true,
    StopTimeout: 10,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: [],
      // no-new-privileges; Docker's default seccomp profile applies because none is overridden.
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      Init: true,
      Runtime: runtimeName(spec.isolation),
      CgroupParent: TENANT_CGROUP_PARENT,
      OomScoreAdj: TENANT_OOM_SCORE_ADJ,
      Memory: plan.memoryMb * MiB,
      // Equal to Memory: no swap, so the memory limit is a real limit.
      MemorySwap: plan.memoryMb * MiB,
      // The plan's share as a quota per period (not NanoCpus, which fixes the period at 100 ms).
      CpuPeriod: cpu.CpuPeriod,
      CpuQuota: options.startCpuQuota ?? cpu.CpuQuota,
      PidsLimit: pidsLimitFor(plan, spec.isolation),
      Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${plan.tmpMb}m` },
      Mounts: [
        { Type: 'bind', Source: placement.socketDir, Target: CONTAINER_SOCKET_DIR, ReadOnly: false },
        // NoCopy: without it the engine copies the image's /data (root-owned) over the empty volume
        // on first mount and undoes the ownership its disk's root was made with (tenant-disk.ts).
        {
          Type: 'volume',
          Source: placement.volumeName,
          Target: CONTAINER_DATA_DIR,
          ReadOnly: false,
          VolumeOptions: NO_COPY,
        },
      ],
      IpcMode: 'private',
      // On cgroup v1 hosts the engine's default is the host's cgroup namespace; keep it private
      // (API 1.41; absent from @types/dockerode, hence the spread).
      ...({ CgroupnsMode: 'private' } as Record<string, string>),
      // The supervisor decides restarts (crash-loop backoff); the engine must not fight it.
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
    },
  };
}

/** The name of a tenant's disk helper (tenant-disk.ts): one at a time, the engine keeps names unique. */
export function volumeInitName(placement: Placement): string {
  return `${placement.containerName}${VOLUME_INIT_SUFFIX}`;
}

/** The UID a pack runs as in the approval sandbox: no tenant's, no image account. */
export const PACK_SANDBOX_UID = 65532;

/**
 * The approval sandbox: a pack's own process started once with a tenant container's controls (the
 * spec above, small plan, runc) but no socket, no volume and no secrets; its work dir is a small
 * tmpfs. Stdin stays open for MCP over stdio (docker attach). Not labelled as managed: it belongs
 * to no tenant, and the supervisor's job removes it itself.
 */
export function buildPackSandboxSpec(options: {
  image: string;
  pack: string;
  command: readonly string[];
  name: string;
  namespace: string;
}): Docker.ContainerCreateOptions {
  const workDir = `${CONTAINER_DATA_DIR}/packs/${options.pack}`;
  const plan = { name: 'pack-sandbox', memoryMb: 256, cpus: 0.5, pids: 64, tmpMb: 16 };
  const tenant = buildContainerSpec(
    {
      tenantId: `pack-${options.pack}`,
      uid: PACK_SANDBOX_UID,
      image: options.image,
      isolation: 'runc',
      plan,
      env: {},
    },
    {
      namespace: options.namespace,
      socketDir: '/nonexistent',
      volumeName: '',
      containerName: options.name,
      generation: 0,
    },
  );
  return {
    ...tenant,
    Entrypoint: [...options.command],
    Cmd: [],
    // The pack's own files: a relative path in its command names one of them, as in the runtime
    // (runtime-image/src/packs/pack-process.ts resolves those against the same directory).
    WorkingDir: `${PACKS_DIR}/${options.pack}`,
    Env: [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `HOME=${workDir}`,
      `BULKHEAD_PACK=${options.pack}`,
    ],
    Labels: { [LABELS.role]: 'pack-sandbox', 'io.bulkhead.pack-sandbox': options.namespace },
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      ...tenant.HostConfig,
      Mounts: [],
      Tmpfs: {
        '/tmp': `rw,noexec,nosuid,nodev,size=${plan.tmpMb}m`,
        [workDir]: `rw,noexec,nosuid,nodev,size=${plan.tmpMb}m,uid=${PACK_SANDBOX_UID},gid=${PACK_SANDBOX_UID},mode=0700`,
      },
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}
