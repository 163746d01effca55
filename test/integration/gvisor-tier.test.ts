// The stronger isolation tier: a tenant whose spec says `isolation: 'gvisor'` runs on runsc and
// passes the same end-to-end write test as a runc tenant, and every tier passes its own isolation
// evidence (`onboard` ends with it; `verify` repeats it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import { containerDefaultsHash, pidsLimitFor } from '../../supervisor/docker/container-spec.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { IsolationTierSchema, PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { runCli } from '../support/cli.ts';
import { agentClient, containerName, volumeTitles, write } from '../support/mcp-client.ts';
import { execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
const TIERS = [
  { tenant: 'plain', runtime: 'runc', isolation: 'runc' },
  { tenant: 'shielded', runtime: 'runsc', isolation: 'gvisor' },
] as const;

beforeAll(async () => {
  stack = await startTestStack('gvisor', { supervisor: { healthIntervalMs: 3_600_000 } });
  await Promise.all(TIERS.map((t) => stack.onboard(t.tenant, { isolation: t.isolation })));
});

afterAll(async () => {
  await stack?.close();
});

it('covers every isolation tier a tenant can choose', () => {
  expect(TIERS.map((t) => t.isolation)).toEqual(IsolationTierSchema.options);
});

describe.each(TIERS)('isolation tier $runtime', ({ tenant, runtime, isolation }) => {
  it('runs on its runtime and passes the end-to-end write test', async () => {
    const info = await stack.ns.docker.getContainer(containerName(stack, tenant)).inspect();
    expect(info.HostConfig.Runtime).toBe(runtime);
    // gVisor's own kernel reports itself as Linux 4.4.0; runc shows the host's kernel.
    const uname = await execIn(stack.ns.docker, info.Id, ['uname', '-r']);
    if (runtime === 'runsc') expect(uname.output.trim()).toBe('4.4.0');
    else expect(uname.output.trim()).not.toBe('4.4.0');

    const client = await agentClient(stack, tenant);
    const created = await client.callTool({
      name: 'records_create',
      arguments: { title: `${tenant}-note`, idempotency_key: `${tenant}-note-key` },
    });
    expect(created.isError).toBeFalsy();
    const id = (created.structuredContent as { record: { id: string } }).record.id;
    const read = await client.callTool({ name: 'records_get', arguments: { id } });
    expect(read.structuredContent).toMatchObject({ record: { id, title: `${tenant}-note` } });
    expect((await write(client, `${tenant}-second`)).ok).toBe(true);
    expect(await volumeTitles(stack, tenant)).toEqual([`${tenant}-note`, `${tenant}-second`]);
    await client.close();
    // The container onboarding made served the calls: its defaults, labelled per tier, are this
    // code's, so it was taken as current, not replaced.
    expect(info.Config.Labels[LABELS.defaults]).toBe(containerDefaultsHash(isolation));
    expect((await stack.ns.docker.getContainer(containerName(stack, tenant)).inspect()).Id).toBe(info.Id);
  });

  it('passes every control of its own isolation evidence (verify)', async () => {
    const result = await runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, [
      'verify',
      tenant,
      '--json',
    ]);
    const report = JSON.parse(result.stdout) as IsolationReport;
    expect(report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(result.code).toBe(0);
    expect(report).toMatchObject({ pass: true, isolation });
    expect(report.checks.length).toBeGreaterThanOrEqual(20);
    const limit = pidsLimitFor(PLANS.small, isolation);
    expect(report.checks.find((c) => c.id === 'limits.pids')?.why).toMatch(
      new RegExp(`^PidsLimit ${limit}\\b`),
    );
  }, 60_000);
});

it('onboards a gVisor tenant from the CLI, its evidence passing (exit 0)', async () => {
  const result = await runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, [
    'onboard',
    'charlie',
    '--isolation',
    'gvisor',
  ]);
  expect(result.stderr + result.stdout).not.toMatch(/FAIL/);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/isolation evidence: (\d+)\/\1 checks pass/);
}, 90_000);
