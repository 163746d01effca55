// The host cgroup of a container's process, as the supervisor finds it from /proc/<pid>/cgroup
// (under a scratch root here, never the real cgroup tree): the directory of the controller asked
// for, and a CPU quota written only where that directory names the container. A PID that is not
// the container's (its process ended and the number was reused) is never written to.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { readPidsCgroup } from '../../supervisor/docker/cgroup-pids.ts';
import { hostCgroup, readCpuQuota, writeCpuQuota } from '../../supervisor/docker/host-cgroup.ts';
import { boostSandboxCpu, restoreSandboxCpu } from '../../supervisor/docker/sandbox-cpu.ts';

const root = mkdtempSync(join(tmpdir(), 'bulkhead-cgroup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('host cgroups of a process', () => {
  it("finds this process's cpu cgroup under the root given", async () => {
    const found = await hostCgroup(process.pid, 'cpu', root);
    expect(found?.dir.startsWith(root)).toBe(true);
  });

  it('never reads or writes the quota of a process whose cgroup does not name the container', async () => {
    const found = (await hostCgroup(process.pid, 'cpu', root))!;
    mkdirSync(found.dir, { recursive: true });
    const file = join(found.dir, found.version === 1 ? 'cpu.cfs_quota_us' : 'cpu.max');
    writeFileSync(file, found.version === 1 ? '500000' : '500000 1000000');
    const containerId = 'f'.repeat(64);
    const target = { pid: process.pid, containerId, quotaUs: 2_000_000, periodUs: 1_000_000 };
    expect(await writeCpuQuota(target, root)).toBe(false);
    expect(await readCpuQuota(process.pid, containerId, root)).toBeUndefined();
    // The pids accounting too: a fork count read elsewhere would be charged to this container.
    const pids = (await hostCgroup(process.pid, 'pids', root))!;
    mkdirSync(pids.dir, { recursive: true });
    writeFileSync(join(pids.dir, 'pids.current'), '3');
    writeFileSync(join(pids.dir, 'pids.events'), 'max 7');
    expect(await readPidsCgroup(process.pid, containerId, root)).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe(found.version === 1 ? '500000' : '500000 1000000');
  });

  it('finds nothing for a process that does not exist', async () => {
    expect(await hostCgroup(2 ** 22 + 1, 'cpu', root)).toBeUndefined();
  });
});

describe('a sandbox whose cgroup is out of reach', () => {
  // This process is no container: its cgroup path names none, as for a supervisor that cannot see
  // the host's cgroups. The real write and restore are in test/integration/cpu-boost.test.ts.
  const info = {
    Id: 'e'.repeat(64),
    Name: '/bulkhead-t-unreachable',
    State: { Pid: process.pid, Running: true },
    HostConfig: { Runtime: 'runsc' },
  } as unknown as Docker.ContainerInspectInfo;

  it('gets no boost, said once however many starts; its restore has nothing to do', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    await boostSandboxCpu(info, 2_000_000, logger);
    await boostSandboxCpu(info, 2_000_000, logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('got no CPU boost');
    await expect(restoreSandboxCpu(info, 500_000)).resolves.toBeUndefined();
  });
});
