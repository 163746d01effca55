// A container's cgroup as the host kernel keeps it, found from one of its processes on the host
// (`/proc/<pid>/cgroup`): the v1 hierarchy that holds the controller, else the v2 unified tree.
// Reachable where the supervisor shares the host's PID namespace and cgroup tree (a process on the
// host, as root); elsewhere the lookups fail and the callers get undefined or false.
//
// The CPU quota is written here for one case only: a gVisor container's start-time boost
// (docs/cpu-boost.md). `runsc` implements no update, so the engine cannot change a running
// sandbox's quota; the kernel enforces it on this cgroup, which holds the sandbox's processes.
import { readFile, writeFile } from 'node:fs/promises';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export interface HostCgroup {
  dir: string;
  version: 1 | 2;
}

/** The cgroup directory holding `controller` for host process `pid`, or undefined. */
export async function hostCgroup(
  pid: number,
  controller: string,
  root = CGROUP_ROOT,
): Promise<HostCgroup | undefined> {
  try {
    const entries = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').map((l) => l.split(':'));
    // A v1 hierarchy is mounted under the name of its controllers ("cpu,cpuacct", "pids").
    const v1 = entries.find(([, controllers]) => controllers?.split(',').includes(controller));
    if (v1?.[1] !== undefined && v1[2] !== undefined) return { dir: `${root}/${v1[1]}${v1[2]}`, version: 1 };
    const v2 = entries.find(([id, controllers]) => id === '0' && controllers === '');
    return v2?.[2] !== undefined ? { dir: `${root}${v2[2]}`, version: 2 } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cgroup holding `controller` for the container's process `pid`, only if its path names the
 * container (`containerId`: the engine's cgroupfs and systemd drivers both put the ID in it). A PID
 * the container's process no longer holds (it ended, and the PID was reused) is never acted on.
 */
export async function containerCgroup(
  pid: number,
  containerId: string,
  controller: string,
  root = CGROUP_ROOT,
): Promise<HostCgroup | undefined> {
  const cgroup = await hostCgroup(pid, controller, root);
  return cgroup && containerId.length >= 12 && cgroup.dir.includes(containerId) ? cgroup : undefined;
}

/** Where a cgroup keeps its CPU quota: v1 the quota alone, v2 "<quota> <period>". */
const quotaFile = (cgroup: HostCgroup): string =>
  `${cgroup.dir}/${cgroup.version === 1 ? 'cpu.cfs_quota_us' : 'cpu.max'}`;

/** The CPU quota the kernel enforces on the container's cgroup (µs per period); undefined: none, or unknown. */
export async function readCpuQuota(
  pid: number,
  containerId: string,
  root = CGROUP_ROOT,
): Promise<number | undefined> {
  const cgroup = await containerCgroup(pid, containerId, 'cpu', root);
  if (!cgroup) return undefined;
  try {
    const quota = Number((await readFile(quotaFile(cgroup), 'utf8')).trim().split(' ')[0]);
    return Number.isInteger(quota) && quota > 0 ? quota : undefined;
  } catch {
    return undefined;
  }
}

/** Sets the container's CPU quota (µs per `periodUs`); false when its cgroup cannot be reached. */
export async function writeCpuQuota(
  target: { pid: number; containerId: string; quotaUs: number; periodUs: number },
  root = CGROUP_ROOT,
): Promise<boolean> {
  const { pid, containerId, quotaUs, periodUs } = target;
  const cgroup = await containerCgroup(pid, containerId, 'cpu', root);
  if (!cgroup) return false;
  try {
    await writeFile(quotaFile(cgroup), cgroup.version === 1 ? String(quotaUs) : `${quotaUs} ${periodUs}`);
    return true;
  } catch {
    return false;
  }
}
