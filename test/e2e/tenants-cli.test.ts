// The operator CLI against a running supervisor: onboarding, listing, offboarding, and clear
// errors (with distinct exit codes) for bad input.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { withholdTool } from '../support/withheld-tools.ts';

const execFileAsync = promisify(execFile);
let stack: TestStack;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['tenants/cli/main.ts', ...args], {
      env: { ...process.env, BULKHEAD_NAMESPACE: stack.ns.namespace, BULKHEAD_DEV_DIR: stack.ns.runDir },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function containers(tenant: string): Promise<number> {
  const list = await stack.ns.docker.listContainers({
    all: true,
    filters: { label: [`io.bulkhead.namespace=${stack.ns.namespace}`, `io.bulkhead.tenant=${tenant}`] },
  });
  return list.length;
}

beforeAll(async () => {
  stack = await startTestStack('cli');
});

afterAll(async () => {
  await stack?.close();
});

describe('tenants CLI', () => {
  it('refuses an invalid tenant id and changes nothing', async () => {
    const result = await cli('onboard', 'Bad_Id!');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tenant id must be 3-32 characters');
    expect(await stack.registry.list()).toEqual([]);
  });

  it('refuses an unknown plan or isolation tier', async () => {
    expect((await cli('onboard', 'acme', '--plan', 'gold')).stderr).toContain('unknown plan "gold"');
    expect((await cli('onboard', 'acme', '--isolation', 'kata')).code).toBe(2);
    expect(await stack.registry.list()).toEqual([]);
  });

  it('onboards a tenant in one command, with progress and the runtime status', async () => {
    const result = await cli('onboard', 'acme', '--name', 'Acme Corp');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('registering tenant "acme"');
    expect(result.stdout).toMatch(/Tenant acme is ready in \d+ ms/);
    expect(result.stdout).toContain('(running)');
    expect(await containers('acme')).toBe(1);
  });

  it('refuses a duplicate id without touching the existing tenant', async () => {
    const before = await stack.registry.get('acme');
    const result = await cli('onboard', 'acme');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('tenant "acme" already exists');
    expect(await stack.registry.get('acme')).toEqual(before);
    expect(await containers('acme')).toBe(1);
  });

  it('shows a tenant with the tools the routers withhold for drift', async () => {
    expect((await cli('show', 'acme')).stdout).toContain('# withheld for drift: none');
    const redis = new Redis(stack.ns.installation.redis);
    const undo = await withholdTool(redis, stack.ns.installation.registryPrefix, 'acme', 'records_update');
    try {
      const shown = await cli('show', 'acme');
      expect(shown.stdout).toMatch(
        /^# withheld for drift: records_update \(definition changed, 1 router, last found \d{4}-\d\d-\d\dT[\d:.]+Z\)$/m,
      );
      const json = JSON.parse((await cli('show', 'acme', '--json')).stdout) as { withheld: unknown[] };
      expect(json.withheld).toEqual([expect.objectContaining({ tool: 'records_update', routers: 1 })]);
    } finally {
      await undo();
      redis.disconnect();
    }
  });

  it('lists tenants with the state of their runtime', async () => {
    const result = await cli('list');
    expect(result.stdout).toMatch(
      /^acme\s+active\s+uid=\d+ plan=small isolation=runc runtime=running generation=1$/m,
    );
  });

  it('offboards only with confirmation, and then removes container, volume and record', async () => {
    expect((await cli('offboard', 'acme')).code).toBe(2);
    expect(await containers('acme')).toBe(1);
    const result = await cli('offboard', 'acme', '--yes');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'Destroyed for acme: container, data volume, socket directory, secrets (0), registry record',
    );
    expect(await containers('acme')).toBe(0);
    const { Volumes } = await stack.ns.docker.listVolumes({
      filters: { name: [`bulkhead-${stack.ns.namespace}-acme-data`] },
    });
    expect(Volumes ?? []).toEqual([]);
    expect(await stack.registry.get('acme')).toBeUndefined();
    expect((await cli('offboard', 'acme', '--yes')).code).toBe(3);
  });
});
