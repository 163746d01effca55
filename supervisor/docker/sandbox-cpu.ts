// A gVisor container's CPU quota while it starts (docs/cpu-boost.md). The engine cannot change a
// running sandbox's quota (`runsc` implements no update), so a gVisor container is created and
// recorded with its plan's quota, and the start-time boost is written to the host cgroup that
// holds the sandbox's processes, right after the engine's start, and taken back there. The
// engine's record stays the plan's throughout; `list()` reports the cgroup's live quota for a
// sandbox, so that the health pass finds a boost a supervisor that died left behind.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { CPU_PERIOD_US } from '../runtime/runtime-cpu.ts';
import type { RuntimeSpec } from '../runtime/runtime-driver.ts';
import { readCpuQuota, writeCpuQuota } from './host-cgroup.ts';

/** Whether the container runs under gVisor: its quota lives in the host cgroup alone. */
function isSandbox(info: Docker.ContainerInspectInfo): boolean {
  return info.HostConfig.Runtime === 'runsc';
}

/** The boost the engine itself starts a process with: none under gVisor (it goes to the cgroup). */
export function engineStartQuota(
  isolation: RuntimeSpec['isolation'],
  startCpuQuota: number | undefined,
): number | undefined {
  return isolation === 'gvisor' ? undefined : startCpuQuota;
}

/** Whether this process already said that it cannot reach sandbox cgroups (it says so once). */
let unreachableSaid = false;

/**
 * Gives a sandbox just started its boost. A supervisor that cannot see the host's cgroups (in a
 * container of its own) gives none, says so once, and the start runs at the plan's quota.
 */
export async function boostSandboxCpu(
  info: Docker.ContainerInspectInfo,
  quotaUs: number,
  logger: Logger,
): Promise<void> {
  if (await writeSandboxQuota(info, quotaUs)) return;
  if (unreachableSaid) return;
  unreachableSaid = true;
  logger.warn(
    { container: info.Name },
    "a gVisor start got no CPU boost: its sandbox's host cgroup could not be written (out of reach of a supervisor in a container of its own); said once",
  );
}

/**
 * Puts the plan's quota back on a running sandbox: nothing to do when it no longer runs, already has
 * it, or its cgroup cannot be read (then no boost could have been written either).
 */
export async function restoreSandboxCpu(info: Docker.ContainerInspectInfo, quotaUs: number): Promise<void> {
  const live = await liveSandboxQuota(info);
  if (live === undefined || live === quotaUs) return;
  if (!(await writeSandboxQuota(info, quotaUs)))
    throw new Error(`the CPU cgroup of ${info.Name} could not be written`);
}

/** The quota the kernel enforces on a running sandbox; undefined for a runc container, or unreadable. */
export async function liveSandboxQuota(info: Docker.ContainerInspectInfo): Promise<number | undefined> {
  if (!isSandbox(info) || !info.State.Running || !(info.State.Pid > 0)) return undefined;
  return readCpuQuota(info.State.Pid, info.Id);
}

function writeSandboxQuota(info: Docker.ContainerInspectInfo, quotaUs: number): Promise<boolean> {
  if (!(info.State.Pid > 0)) return Promise.resolve(false);
  return writeCpuQuota({ pid: info.State.Pid, containerId: info.Id, quotaUs, periodUs: CPU_PERIOD_US });
}
