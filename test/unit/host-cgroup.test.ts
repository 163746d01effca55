// The host cgroup of a container's process, as the supervisor finds it from /proc/<pid>/cgroup
// (under a scratch root here, never the real cgroup tree): the directory of the controller asked
// for, and a CPU quota written only where that directory names the container. A PID that is not
// the container's (its process ended and the number was reused) is never written to.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostCgroup, readCpuQuota, writeCpuQuota } from '../../supervisor/docker/host-cgroup.ts';

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
    expect(readFileSync(file, 'utf8')).toBe(found.version === 1 ? '500000' : '500000 1000000');
  });

  it('finds nothing for a process that does not exist', async () => {
    expect(await hostCgroup(2 ** 22 + 1, 'cpu', root)).toBeUndefined();
  });
});
