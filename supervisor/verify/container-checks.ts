// Checks of a live container's configuration, as the engine reports it, against each container
// control of docs/architecture.md ("Tenant containers"). Pure: the engine's inspect data and the
// tenant record in, checks out.
import type Docker from 'dockerode';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { CONTAINER_DATA_DIR, CONTAINER_SOCKET_DIR } from '../../kernel/wire/runtime-endpoint.ts';
import type { IsolationCheck } from '../client/isolation-report.ts';
import {
  pidsLimitFor,
  runtimeName,
  TENANT_CGROUP_PARENT,
  TENANT_OOM_SCORE_ADJ,
  type Placement,
} from '../docker/container-spec.ts';
import { cpuLimitFor } from '../runtime/runtime-cpu.ts';
import { LABELS } from '../docker/labels.ts';
import { diskMbOf } from '../docker/tenant-disk.ts';

const MiB = 1024 * 1024;

/** The namespace modes of a container with namespaces of its own ('' is the engine's private default). */
const OWN_NAMESPACE_MODES: Record<string, readonly string[]> = {
  PidMode: ['', 'private'],
  IpcMode: ['private', 'none'],
  UTSMode: [''],
  UsernsMode: [''],
  // '' is the engine's default, the host's cgroup namespace on cgroup v1: the spec sets it private.
  CgroupnsMode: ['private'],
};

function check(id: string, control: string, pass: boolean, ok: string, bad: string): IsolationCheck {
  return { id, control, source: 'docker', pass, why: pass ? ok : bad };
}

export function containerChecks(
  info: Docker.ContainerInspectInfo,
  tenant: TenantRecord,
  placement: Placement,
): IsolationCheck[] {
  const host = info.HostConfig;
  // @types/dockerode types these as any; the engine returns string arrays (or null).
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  const caps = { drop: strings(host.CapDrop), add: strings(host.CapAdd) };
  const secOpt = strings(host.SecurityOpt);
  const networkDisabled = (info.Config as { NetworkDisabled?: boolean }).NetworkDisabled === true;
  const networks = Object.keys(info.NetworkSettings.Networks ?? {});
  const mounts = info.Mounts ?? [];
  const memory = tenant.plan.memoryMb * MiB;
  const runtime = runtimeName(tenant.isolation);
  const pids = pidsLimitFor(tenant.plan, tenant.isolation);
  const pidsNote =
    pids === tenant.plan.pids ? '' : ` (plan ${tenant.plan.pids} + the ${runtime} sandbox's own threads)`;
  const cpu = cpuLimitFor(tenant.plan);
  // A container made before the 1 s period holds the same share as NanoCpus (the engine's 100 ms
  // period): the plan's limit all the same, until it is replaced.
  const cpuLimited =
    (host.CpuQuota === cpu.CpuQuota && host.CpuPeriod === cpu.CpuPeriod && !host.NanoCpus) ||
    (host.NanoCpus === Math.round(tenant.plan.cpus * 1e9) && !host.CpuQuota);
  const cpuSet = `CpuQuota ${String(host.CpuQuota)} per CpuPeriod ${String(host.CpuPeriod)} µs, NanoCpus ${String(host.NanoCpus)}`;
  const tmpfs = host.Tmpfs?.['/tmp'] ?? '';
  // Each namespace must be the container's own, as the spec makes it: not only not the host's, but
  // not another container's either ("container:<id>" joins a neighbour's, another tenant's included)
  // nor one others may join (IpcMode "shareable").
  const modes = host as Record<string, unknown>;
  const sharedNs = Object.entries(OWN_NAMESPACE_MODES)
    .map(([key, own]) => ({ key, own, mode: typeof modes[key] === 'string' ? modes[key] : '' }))
    .filter(({ own, mode }) => !own.includes(mode));
  const groups = strings(host.GroupAdd);
  const devices = [
    ...((host.Devices ?? []) as { PathOnHost?: string }[]).map((d) => d.PathOnHost ?? '?'),
    ...strings(host.DeviceCgroupRules).map((rule) => `rule "${rule}"`),
    ...(Array.isArray(host.DeviceRequests) && host.DeviceRequests.length > 0 ? ['device requests'] : []),
  ];
  const log = host.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined;
  const logCaps = { size: log?.Config?.['max-size'] ?? '', files: log?.Config?.['max-file'] ?? '' };
  const expectedMounts = new Map([
    [CONTAINER_SOCKET_DIR, placement.socketDir],
    [CONTAINER_DATA_DIR, placement.volumeName],
  ]);
  const foreignMounts = mounts.filter((m) => {
    const expected = expectedMounts.get(m.Destination);
    return expected === undefined || (m.Type === 'volume' ? m.Name !== expected : m.Source !== expected);
  });
  const dockerSocket = mounts.filter((m) => /docker\.sock|containerd/.test(m.Source ?? ''));
  return [
    check(
      'network.none',
      'NetworkMode: none (no network by default)',
      host.NetworkMode === 'none' && networkDisabled && networks.every((n) => n === 'none'),
      'NetworkMode is "none" and networking is disabled',
      `NetworkMode is "${host.NetworkMode}", NetworkDisabled ${String(networkDisabled)}, networks ${JSON.stringify(networks)}`,
    ),
    check(
      'rootfs.readonly',
      'read-only root filesystem',
      host.ReadonlyRootfs === true,
      'ReadonlyRootfs is true',
      'the root filesystem is writable',
    ),
    check(
      'tmpfs.capped',
      'size-capped tmpfs /tmp',
      new RegExp(`size=${tenant.plan.tmpMb}m`).test(tmpfs) && tmpfs.includes('noexec'),
      `/tmp is tmpfs "${tmpfs}"`,
      `/tmp tmpfs is "${tmpfs}", expected noexec and size=${tenant.plan.tmpMb}m`,
    ),
    check(
      'capabilities.none',
      'CapDrop ALL, nothing added',
      caps.drop.includes('ALL') && caps.add.length === 0,
      'all capabilities dropped, none added',
      `CapDrop ${JSON.stringify(caps.drop)}, CapAdd ${JSON.stringify(caps.add)}`,
    ),
    check(
      'no-new-privileges',
      'no-new-privileges',
      secOpt.some((o) => /^no-new-privileges(:true|=true)?$/.test(o)),
      'no-new-privileges is set',
      `SecurityOpt ${JSON.stringify(secOpt)} lacks no-new-privileges`,
    ),
    check(
      'seccomp.default',
      'default seccomp profile',
      !secOpt.some((o) => /^seccomp[=:]/.test(o)),
      'no seccomp override: the default profile applies',
      `seccomp overridden: ${JSON.stringify(secOpt)}`,
    ),
    check(
      'privileged.off',
      'not privileged',
      host.Privileged !== true,
      'Privileged is false',
      'the container is privileged',
    ),
    check(
      'namespaces.private',
      'no namespace shared with the host or another container',
      sharedNs.length === 0 && host.NetworkMode !== 'host',
      'its own pid, ipc, uts, user and cgroup namespaces, none shareable; no host network',
      sharedNs.length === 0
        ? "shares the host's network namespace"
        : `not its own: ${sharedNs.map(({ key, mode }) => `${key} "${mode}"`).join(', ')}`,
    ),
    check(
      'user.tenant-uid',
      'non-root UID of this tenant, no other group',
      info.Config.User === `${tenant.uid}:${tenant.uid}` && tenant.uid !== 0 && groups.length === 0,
      `runs as ${info.Config.User}, no supplementary group added`,
      `runs as "${info.Config.User}" with groups added ${JSON.stringify(groups)}, expected ${tenant.uid}:${tenant.uid} and none`,
    ),
    check(
      'devices.none',
      'no host device',
      devices.length === 0,
      'no device, device rule or device request given to the container',
      `host devices: ${devices.join(', ')}`,
    ),
    check(
      'limits.memory',
      'memory limit, no swap',
      host.Memory === memory && host.MemorySwap === memory,
      `Memory ${memory} bytes, MemorySwap equal (no swap)`,
      `Memory ${String(host.Memory)}, MemorySwap ${String(host.MemorySwap)}, expected both ${memory}`,
    ),
    check(
      'limits.cpu',
      'CPU limit',
      cpuLimited,
      cpuSet,
      `${cpuSet}, expected CpuQuota ${cpu.CpuQuota} per CpuPeriod ${cpu.CpuPeriod} µs`,
    ),
    check(
      'limits.pids',
      'PIDs limit',
      host.PidsLimit === pids,
      `PidsLimit ${String(host.PidsLimit)}${pidsNote}`,
      `PidsLimit ${String(host.PidsLimit)}, expected ${pids}${pidsNote}`,
    ),
    check(
      'cgroup.tenants',
      "in the tenants' cgroup, apart from the control plane",
      host.CgroupParent === TENANT_CGROUP_PARENT,
      `CgroupParent ${TENANT_CGROUP_PARENT}`,
      `CgroupParent "${String(host.CgroupParent ?? '')}", expected ${TENANT_CGROUP_PARENT}: busy, it weighs as much as the router`,
    ),
    check(
      'oom.tenant-first',
      "the OOM killer's first choice before the control plane",
      host.OomScoreAdj === TENANT_OOM_SCORE_ADJ,
      `OomScoreAdj ${TENANT_OOM_SCORE_ADJ}`,
      `OomScoreAdj ${String(host.OomScoreAdj)}, expected ${TENANT_OOM_SCORE_ADJ}`,
    ),
    check('init', 'Init process', host.Init === true, 'Init is true', 'no init process'),
    check(
      'runtime.tier',
      `isolation tier ${tenant.isolation}`,
      host.Runtime === runtime,
      `runtime ${String(host.Runtime)}`,
      `runtime ${String(host.Runtime)}, expected ${runtime}`,
    ),
    check(
      'docker-socket.absent',
      'no Docker socket in the container',
      dockerSocket.length === 0,
      'no mount of a Docker or containerd socket',
      `mounts ${dockerSocket.map((m) => m.Source).join(', ')}`,
    ),
    check(
      'mounts.own-only',
      "only the tenant's own volume and socket directory",
      foreignMounts.length === 0 && mounts.length === expectedMounts.size,
      `mounts: ${placement.volumeName} at ${CONTAINER_DATA_DIR}, ${placement.socketDir} at ${CONTAINER_SOCKET_DIR}`,
      `unexpected mounts: ${JSON.stringify(foreignMounts.map((m) => `${m.Name ?? m.Source} -> ${m.Destination}`))}`,
    ),
    check(
      'labels.ownership',
      'labels record ownership (tenant, spec hash, generation)',
      info.Config.Labels[LABELS.tenant] === tenant.id &&
        Boolean(info.Config.Labels[LABELS.specHash]) &&
        Boolean(info.Config.Labels[LABELS.generation]),
      `tenant=${tenant.id}, spec-hash=${info.Config.Labels[LABELS.specHash] ?? ''}`,
      'ownership labels missing or naming another tenant',
    ),
    check(
      'logs.capped',
      'log size caps',
      log?.Type === 'json-file' && logCaps.size !== '' && logCaps.files !== '',
      `json-file, max-size ${logCaps.size}, max-file ${logCaps.files}`,
      `log config ${JSON.stringify(log)} has no size cap`,
    ),
  ];
}

/**
 * The tenant's data lives on its disk: the data volume names a loop device that holds the tenant's
 * image (supervisor/docker/tenant-disk.ts), so its writes end at the plan's size. A volume made
 * before tenants had disks names none, and is unbounded.
 */
export function diskCheck(
  disk: { volume: boolean; device?: string; holdsImage: boolean },
  tenant: TenantRecord,
  placement: Placement,
): IsolationCheck {
  const size = `${diskMbOf(tenant.plan)} MiB`;
  return check(
    'disk.bounded',
    "the tenant's data on a disk of its plan's size",
    disk.holdsImage,
    `${placement.volumeName} is ext4 on ${disk.device}, which holds the tenant's ${size} image`,
    !disk.volume
      ? `no data volume ${placement.volumeName}`
      : disk.device === undefined
        ? `${placement.volumeName} is a plain directory on the host's filesystem, unbounded (made before tenants had disks)`
        : `${placement.volumeName} names ${disk.device}, which does not hold the tenant's image`,
  );
}
