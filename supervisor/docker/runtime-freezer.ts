// How a tenant's runtime is paused: the kernel's cgroup freezer, written by the supervisor in the
// container's host cgroup. `docker pause` writes the very same file (runc does), but through the
// engine, containerd and a runc process of its own: 7 to 12 ms to thaw on this kind of machine,
// against well under a millisecond for the write alone, and a wake from paused waits for the thaw
// (docs/lifecycle.md). The engine is not told: it reports a container frozen this way as running,
// and the driver reads the freezer to report it paused. A supervisor that cannot reach the host's
// cgroups (in a container of its own) asks the engine instead, and a container the engine paused
// (that way, or by hand) is thawed by the engine too: it refuses to unpause a container whose
// freezer was thawed behind its back, and would report it paused for good.
import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { BulkheadError, errorMessage } from '../../kernel/errors/bulkhead-error.ts';
import type { PausedBy } from '../runtime/runtime-driver.ts';
import { ignoreStatus, statusOf } from './engine-status.ts';
import { CGROUP_ROOT, containerCgroup, type HostCgroup } from './host-cgroup.ts';

/** The file that freezes and thaws a cgroup: v1 `freezer.state`, v2 `cgroup.freeze`. */
const controlFile = (cgroup: HostCgroup): string =>
  `${cgroup.dir}/${cgroup.version === 1 ? 'freezer.state' : 'cgroup.freeze'}`;

const FREEZE = { 1: 'FROZEN', 2: '1' } as const;
const THAW = { 1: 'THAWED', 2: '0' } as const;

/** Asked for (v2), or under way or done (v1 `FREEZING`, `FROZEN`): a wake must thaw it either way. */
async function isFrozen(cgroup: HostCgroup): Promise<boolean> {
  const state = (await readFile(controlFile(cgroup), 'utf8')).trim();
  return cgroup.version === 1 ? state !== 'THAWED' : state === '1';
}

/** Whether every process of the cgroup is stopped now (v1 `FROZEN`; v2 `frozen 1` in its events). */
async function frozenNow(cgroup: HostCgroup): Promise<boolean> {
  if (cgroup.version === 1) return (await readFile(controlFile(cgroup), 'utf8')).trim() === 'FROZEN';
  return /^frozen 1$/m.test(await readFile(`${cgroup.dir}/cgroup.events`, 'utf8'));
}

/**
 * The engine took the container for paused and its OCI runtime found it not paused (runc: "container
 * not paused"; runsc: "cannot resume container ... in state running"): thawed already, as a thaw
 * wants, if the engine reports it running now. The engine learns of its own pause twice, from the
 * request and later from containerd's event, which sets the flag again where an unpause cleared it
 * in between; until containerd's resume event follows, the engine reports the running container
 * paused, and a wake in that window asked it to unpause a running container and failed. So its
 * paused flag is no sign here, and runc's words are none either: it says the same of a container
 * that is stopped (its process ended while the engine had it paused), which is not a runtime woken.
 * The engine reports that one not running once containerd's exit event has reached it; before
 * that, the wake's socket probe finds nothing listening and its start wait sees the exit
 * (lifecycle/runtime-health.ts, waitUntilResumed).
 */
async function runningAfterAll(container: Docker.Container, error: unknown): Promise<boolean> {
  if (
    statusOf(error) !== 500 ||
    !/container not paused|cannot resume container .* in state running/.test(errorMessage(error))
  )
    return false;
  const { State } = await container.inspect();
  return State.Running;
}

/**
 * The engine refused the unpause itself, its flag clear since it was read as paused (containerd's
 * resume event after a late pause event, an operator's unpause): "Container <id> is not paused", a
 * 500 from Docker 20.10 (a 409, a conflict, is taken too). Thawed, as a thaw wants, if the engine
 * reports it running and not paused now: the text alone is not trusted, and a container that
 * stopped meanwhile is not a runtime woken.
 */
async function clearedSince(container: Docker.Container, error: unknown): Promise<boolean> {
  if (![409, 500].includes(statusOf(error) ?? 0) || !/container \S+ is not paused/i.test(errorMessage(error)))
    return false;
  const { State } = await container.inspect();
  return State.Running && !State.Paused;
}

/**
 * The engine's pause, asked again until `deadlineMs` has passed while its OCI runtime could not stop
 * every process at once: runc tries a while, thaws what it froze and fails (500, "unable to
 * freeze"), as a freeze of the host cgroup meets a process busy in the kernel (a loaded host, a
 * runtime starting). The cgroup path writes its request again likewise; any other refusal throws.
 */
export async function pauseByEngine(container: Docker.Container, deadlineMs = 2_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      await container.pause();
      return;
    } catch (error) {
      if (statusOf(error) !== 500 || !/unable to freeze/.test(errorMessage(error)) || Date.now() > deadline)
        throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface RuntimeFreezerOptions {
  /** Where the host's cgroup tree is mounted (default /sys/fs/cgroup). */
  root?: string;
  /** How a container's freezer cgroup is found (default: from its process, `host-cgroup.ts`). */
  locate?: (pid: number, containerId: string, root: string) => Promise<HostCgroup | undefined>;
  /** How long a freeze may take before it is undone: a process in an uninterruptible wait delays it. */
  deadlineMs?: number;
}

export class RuntimeFreezer {
  /** Each container's freezer, by container ID: its cgroup's path is fixed for the container's life. */
  private readonly cgroups = new Map<string, HostCgroup>();
  private readonly root: string;
  private readonly locate: NonNullable<RuntimeFreezerOptions['locate']>;
  private readonly deadlineMs: number;

  constructor(options: RuntimeFreezerOptions = {}) {
    this.root = options.root ?? CGROUP_ROOT;
    this.locate = options.locate ?? ((pid, id, root) => containerCgroup(pid, id, 'freezer', root));
    this.deadlineMs = options.deadlineMs ?? 2_000;
  }

  /** Who keeps the container frozen, or undefined when it is not (or does not run). */
  async pausedBy(info: Docker.ContainerInspectInfo): Promise<PausedBy | undefined> {
    if (info.State.Paused) return 'engine';
    if (!info.State.Running) return undefined;
    const cgroup = await this.cgroupOf(info);
    return cgroup && (await isFrozen(cgroup).catch(() => false)) ? 'host' : undefined;
  }

  /** Freezes a running container: in its host cgroup where the supervisor reaches it, else by the engine. */
  async freeze(container: Docker.Container, info: Docker.ContainerInspectInfo): Promise<void> {
    const cgroup = await this.cgroupOf(info);
    if (!cgroup) return pauseByEngine(container, this.deadlineMs);
    const deadline = Date.now() + this.deadlineMs;
    // As runc does: the request is written again until every process is stopped.
    for (;;) {
      await writeFile(controlFile(cgroup), FREEZE[cgroup.version]);
      if (await frozenNow(cgroup)) return;
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await writeFile(controlFile(cgroup), THAW[cgroup.version]);
    throw new BulkheadError(
      'runtime_failed',
      `container ${info.Name} was not frozen within ${this.deadlineMs} ms: thawed again`,
    );
  }

  /**
   * Thaws a container frozen by `by`. Resolves once the engine, or the kernel, has been told: its
   * processes are runnable from then on (`thawed`), or `gone` when the container was removed since it
   * was seen frozen (the engine answers 404, or its cgroup went with it): the driver's own outcome
   * for a container gone, as its removal and its look-ups take an engine's 404, not the engine's
   * error. The host cgroup is the one found when the container was seen frozen, else (forgotten
   * meanwhile) looked up again.
   */
  async thaw(container: Docker.Container, by: PausedBy): Promise<'thawed' | 'gone'> {
    if (by === 'engine') {
      try {
        await ignoreStatus(container.unpause(), 304);
      } catch (error) {
        if (statusOf(error) === 404) return 'gone';
        if (await runningAfterAll(container, error)) return 'thawed';
        if (!(await clearedSince(container, error))) throw error;
      }
      return 'thawed';
    }
    let cgroup = this.cgroups.get(container.id);
    if (!cgroup) {
      // Forgotten meanwhile: looked up again, unless the engine no longer has the container.
      const info = await ignoreStatus(container.inspect(), 404);
      if (!info) return 'gone';
      cgroup = await this.cgroupOf(info);
    }
    if (!cgroup)
      throw new BulkheadError(
        'runtime_failed',
        `container ${container.id} has no freezer within reach to thaw`,
      );
    try {
      await writeFile(controlFile(cgroup), THAW[cgroup.version]);
    } catch (error) {
      // Its cgroup removed with it: the engine says whether the container is gone.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!(await ignoreStatus(container.inspect(), 404))) return 'gone';
      throw error;
    }
    return 'thawed';
  }

  /**
   * Forgets containers no longer there (by the IDs still there), so the lookups kept stay bounded:
   * the driver's every listing (the health and idle passes) calls it.
   */
  keepOnly(runtimeIds: Iterable<string>): void {
    const kept = new Set(runtimeIds);
    for (const id of this.cgroups.keys()) if (!kept.has(id)) this.cgroups.delete(id);
  }

  /** The container's freezer cgroup, found from its process on the host once; undefined: out of reach. */
  private async cgroupOf(info: Docker.ContainerInspectInfo): Promise<HostCgroup | undefined> {
    const known = this.cgroups.get(info.Id);
    if (known) return known;
    if (!(info.State.Pid > 0)) return undefined;
    const cgroup = await this.locate(info.State.Pid, info.Id, this.root);
    if (!cgroup) return undefined;
    // No control file (the v2 root, a v1 tree without the freezer) or a read-only one: out of reach.
    const reachable = await access(controlFile(cgroup), constants.W_OK).then(
      () => true,
      () => false,
    );
    if (!reachable) return undefined;
    this.cgroups.set(info.Id, cgroup);
    return cgroup;
  }
}
