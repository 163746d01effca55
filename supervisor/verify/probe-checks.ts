// Turns what the in-container probe saw into pass/fail checks, one per control of
// docs/architecture.md ("Tenant containers").
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { IsolationCheck } from '../client/isolation-report.ts';
import { pidsLimitFor } from '../docker/container-spec.ts';
import { cpuLimitFor } from '../runtime/runtime-cpu.ts';
import { EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import { CONTAINER_DATA_DIR, CONTAINER_SOCKET_NAME } from '../../kernel/wire/runtime-endpoint.ts';
import { diskMbOf } from '../docker/tenant-disk.ts';
import { othersSeen, type OtherPlace, type ProbedPlaces } from './other-tenants.ts';

/** What a tenant's socket directory may hold: the runtime's socket and its egress bridge's. */
const RUNTIME_SOCKETS: readonly string[] = [CONTAINER_SOCKET_NAME, EGRESS_SOCKET_NAME];

export interface ProbeObservation extends ProbedPlaces {
  interfaces: string[];
  sysNet: string[] | null;
  routes: string[];
  dockerSockets: string[];
  rootWrite: string;
  uid: number;
  gid: number;
  /** Its groups (Node's getgroups, which includes the effective GID). */
  groups: number[];
  /** The distinct real UIDs of the processes it sees in /proc (at most PROBE_MAX_ROOT_ENTRIES). */
  processUids: number[];
  memoryLimit: string | null;
  pidsLimit: string | null;
  /** The CPU cgroup's quota and period in µs ("500000 1000000"; "max ..." when unlimited). */
  cpuMax: string | null;
  socketDir: string[] | null;
  /** The size of the filesystem under its data directory (statfs), null where it could not tell. */
  dataBytes: number | null;
  connect: string;
}

function check(id: string, control: string, pass: boolean, ok: string, bad: string): IsolationCheck {
  return { id, control, source: 'probe', pass, why: pass ? ok : bad };
}

export interface ProbeContext {
  /** Every other tenant's places: the probe was given none of them. */
  others?: readonly OtherPlace[];
  /**
   * Under gVisor, the CPU quota the kernel enforces on the sandbox's host cgroup (read by the
   * supervisor; undefined where it cannot see that cgroup, and so could not boost it).
   */
  sandboxCpuQuota?: number | undefined;
}

export function probeChecks(
  seen: ProbeObservation,
  tenant: TenantRecord,
  { others = [], sandboxCpuQuota }: ProbeContext = {},
): IsolationCheck[] {
  const planQuota = cpuLimitFor(tenant.plan).CpuQuota;
  const ifaces = [...new Set([...seen.interfaces, ...(seen.sysNet ?? [])])];
  const memory = tenant.plan.memoryMb * 1024 * 1024;
  const disk = diskMbOf(tenant.plan) * 1024 * 1024;
  const pids = pidsLimitFor(tenant.plan, tenant.isolation);
  const cpu = cpuShare(seen.cpuMax);
  // The plan's share, whatever the period: a container made before the 1 s period has 100 ms.
  const cpuOk = cpu !== undefined && Math.round(cpu * 1e6) === Math.round(tenant.plan.cpus * 1e6);
  const foreign = othersSeen(seen, others);
  const own = (id: number) => id === tenant.uid;
  const seenLimits = `cgroup memory ${seen.memoryLimit ?? '?'}, pids ${seen.pidsLimit ?? '?'}, cpu ${seen.cpuMax ?? '?'}`;
  return [
    check(
      'probe.interfaces',
      'no network interface beyond loopback',
      ifaces.every((i) => i === 'lo'),
      `interfaces: ${ifaces.join(', ') || '(none)'}`,
      `interfaces seen: ${ifaces.join(', ')}`,
    ),
    check(
      'probe.no-route',
      'no route out',
      seen.routes.length === 0 && /ENETUNREACH|EHOSTUNREACH|EACCES|EPERM/.test(seen.connect),
      `routing table empty; connecting to 192.0.2.1:80 failed with ${seen.connect}`,
      `routes: ${JSON.stringify(seen.routes)}; connect: ${seen.connect}`,
    ),
    check(
      'probe.no-docker-socket',
      'no Docker socket reachable',
      seen.dockerSockets.length === 0,
      'no Docker or containerd socket exists in the container',
      `present: ${seen.dockerSockets.join(', ')}`,
    ),
    check(
      'probe.rootfs-readonly',
      'cannot write the root filesystem',
      seen.rootWrite !== 'written',
      `writing /bulkhead-probe failed with ${seen.rootWrite}`,
      'a file was written to the root filesystem',
    ),
    check(
      'probe.tenant-uid',
      "runs as the tenant's UID, in no other group",
      seen.uid === tenant.uid && seen.gid === tenant.uid && seen.groups.every(own),
      `uid ${seen.uid}, gid ${seen.gid}, groups ${JSON.stringify(seen.groups)}`,
      `uid ${seen.uid}, gid ${seen.gid}, groups ${JSON.stringify(seen.groups)}, expected ${tenant.uid} alone`,
    ),
    check(
      'probe.own-processes',
      "sees no process but its tenant's",
      seen.processUids.length > 0 && seen.processUids.every(own),
      `every process in its PID namespace runs as ${tenant.uid}`,
      `processes of UIDs ${JSON.stringify(seen.processUids)} are in its PID namespace, expected ${tenant.uid} alone`,
    ),
    check(
      'probe.other-tenants',
      "cannot see or read another tenant's volume or socket",
      foreign.visible.length === 0 &&
        foreign.readable.length === 0 &&
        foreign.unsure.length === 0 &&
        (seen.socketDir ?? []).every((f) => RUNTIME_SOCKETS.includes(f)),
      `no other tenant's volume or socket directory is in its mount table, listed or readable; /run/mcp holds ${JSON.stringify(seen.socketDir)}`,
      `visible: ${JSON.stringify(foreign.visible)}, readable: ${JSON.stringify(foreign.readable)}, /run/mcp: ${JSON.stringify(seen.socketDir)}` +
        (foreign.unsure.length === 0 ? '' : `; not ruled out: ${foreign.unsure.join('; ')}`),
    ),
    check(
      'probe.disk',
      "its data directory no larger than its plan's disk",
      seen.dataBytes !== null && seen.dataBytes > 0 && seen.dataBytes <= disk,
      `${CONTAINER_DATA_DIR} is on a filesystem of ${seen.dataBytes} bytes, within the plan's ${disk}`,
      `${CONTAINER_DATA_DIR} is on a filesystem of ${String(seen.dataBytes)} bytes, expected at most the plan's ${disk}`,
    ),
    tenant.isolation === 'gvisor' && seen.memoryLimit === null && seen.pidsLimit === null
      ? check(
          'probe.limits',
          'memory, PIDs and CPU limits in force',
          sandboxCpuQuota === undefined || sandboxCpuQuota === planQuota,
          "gVisor's sandbox exposes no host cgroup files inside; the limits are evidenced by the engine (limits.memory, limits.pids, limits.cpu)" +
            (sandboxCpuQuota === undefined
              ? ''
              : `, and the sandbox's host cgroup enforces CpuQuota ${sandboxCpuQuota}`),
          `the sandbox's host cgroup enforces CpuQuota ${sandboxCpuQuota}, expected ${planQuota} (a start-time boost in force)`,
        )
      : check(
          'probe.limits',
          'memory, PIDs and CPU limits in force',
          seen.memoryLimit === String(memory) && seen.pidsLimit === String(pids) && cpuOk,
          seenLimits,
          `${seenLimits}; expected memory ${memory}, pids ${pids}, cpu ${tenant.plan.cpus} CPU per period`,
        ),
  ];
}

/** CPUs per period from a cgroup's quota and period ("max": unlimited, undefined). */
function cpuShare(cpuMax: string | null): number | undefined {
  const [quota, period] = (cpuMax ?? '').split(' ').map(Number);
  return quota !== undefined && period && quota > 0 ? quota / period : undefined;
}
