// A container's state as the kernel and the engine report it, read apart from the driver: the
// supervisor freezes a paused runtime in its host cgroup (supervisor/docker/runtime-freezer.ts),
// which the engine still reports as running.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { hostCgroup } from '../../supervisor/docker/host-cgroup.ts';

/** The container's freezer, as its host cgroup says: FROZEN or THAWED (v1 names, for both versions). */
export async function kernelFreezer(docker: Docker, container: string): Promise<string> {
  const info = await docker.getContainer(container).inspect();
  const cgroup = await hostCgroup(info.State.Pid, 'freezer');
  if (!cgroup) throw new Error(`no freezer cgroup for ${container}`);
  const file = cgroup.version === 1 ? 'freezer.state' : 'cgroup.events';
  const text = (await readFile(join(cgroup.dir, file), 'utf8')).trim();
  return cgroup.version === 1 ? text : /^frozen 1$/m.test(text) ? 'FROZEN' : 'THAWED';
}

/** `paused` when the engine paused it or its freezer holds it, else the engine's status; `absent`. */
export async function containerState(docker: Docker, container: string): Promise<string> {
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(container).inspect();
  } catch {
    return 'absent';
  }
  if (info.State.Paused) return 'paused';
  if (info.State.Running && (await kernelFreezer(docker, container)) === 'FROZEN') return 'paused';
  return info.State.Status;
}

/**
 * Freezes (or thaws) a container's processes in its host cgroup, behind the supervisor's back: the
 * engine and the supervisor still take it for running, and a call sent to its socket waits.
 */
export async function setKernelFreezer(docker: Docker, container: string, frozen: boolean): Promise<void> {
  const info = await docker.getContainer(container).inspect();
  const cgroup = await hostCgroup(info.State.Pid, 'freezer');
  if (!cgroup) throw new Error(`no freezer cgroup for ${container}`);
  if (cgroup.version === 1) await writeFile(join(cgroup.dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
  else await writeFile(join(cgroup.dir, 'cgroup.freeze'), frozen ? '1' : '0');
}
