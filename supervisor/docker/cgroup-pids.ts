// A container's PIDs accounting as the kernel keeps it, read from the host's pids cgroup. The
// engine's stats give only the current count, which a fork bomb makes swing (a process that cannot
// fork exits and frees its PID), so a sample can miss the bomb. The cgroup's `pids.events` counts
// every fork refused at the limit and only grows: one read tells whether the limit ever bit.
// Readable where the supervisor shares the host's PID namespace and cgroup tree (a process on the
// host); elsewhere the reads fail and the caller gets undefined.
import { readFile } from 'node:fs/promises';
import { CGROUP_ROOT, containerCgroup } from './host-cgroup.ts';

export interface PidsCgroup {
  current: number;
  /** The limit; undefined when unlimited ("max"). */
  max: number | undefined;
  /** Forks refused because the cgroup was at its limit (`pids.events`, `max N`). */
  refused: number;
  /** The highest count seen (`pids.peak`, where the kernel has it). */
  peak: number | undefined;
}

const count = (text: string | undefined): number | undefined =>
  text === undefined || !/^\d+$/.test(text) ? undefined : Number(text);

/**
 * The pids cgroup of container `containerId`, found from its process `pid` on the host; undefined
 * when it cannot be read, or when the PID's cgroup is not that container's (the PID was reused).
 */
export async function readPidsCgroup(
  pid: number,
  containerId: string,
  root = CGROUP_ROOT,
): Promise<PidsCgroup | undefined> {
  try {
    const dir = (await containerCgroup(pid, containerId, 'pids', root))?.dir;
    if (!dir) return undefined;
    const read = (name: string) =>
      readFile(`${dir}/${name}`, 'utf8').then(
        (text) => text.trim(),
        () => undefined,
      );
    const [current, max, events, peak] = await Promise.all(
      ['pids.current', 'pids.max', 'pids.events', 'pids.peak'].map(read),
    );
    const refused = count(/^max (\d+)$/m.exec(events ?? '')?.[1]);
    const now = count(current);
    if (now === undefined || refused === undefined) return undefined;
    return { current: now, max: count(max), refused, peak: count(peak) };
  } catch {
    return undefined;
  }
}
