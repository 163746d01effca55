// `verify` produces isolation evidence from the live container (engine view) and from probes run
// inside it. It passes on a correctly onboarded tenant and fails, naming the control, when the
// tenant's container is replaced by one started with a weakened setting.
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../tenants/registry/tenant-registry.ts';
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import { buildContainerSpec } from '../../supervisor/docker/container-spec.ts';
import { runCli } from '../support/cli.ts';
import { INITIAL_ACCESS_TOKEN, startTestStack, type TestStack } from '../support/stack.ts';
import { writeDevStack } from '../../tenants/cli/dev-stack-state.ts';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

let stack: TestStack;
const cli = (...args: string[]) => runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, args);

async function verifyJson(id: string): Promise<{ code: number; report: IsolationReport }> {
  const result = await cli('verify', id, '--json');
  return { code: result.code, report: JSON.parse(result.stdout) as IsolationReport };
}

const failing = (report: IsolationReport) => report.checks.filter((c) => !c.pass).map((c) => c.id);

/** Replaces the tenant's container with one built from the hardened spec, then weakened by `weaken`. */
async function replaceWithWeakened(
  id: string,
  weaken: (spec: Docker.ContainerCreateOptions) => Docker.ContainerCreateOptions,
): Promise<void> {
  const tenant = await stack.registry.require(id);
  const existing = await stack.supervisor.driver.inspect(id);
  if (existing) await stack.ns.docker.getContainer(existing.runtimeId).remove({ force: true });
  const spec = weaken(
    buildContainerSpec(stack.supervisor.manager.specFor(tenant), stack.supervisor.driver.placement(id, 1)),
  );
  const container = await stack.ns.docker.createContainer(spec);
  await container.start();
}

beforeAll(async () => {
  stack = await startTestStack('verify');
  // The cross-tenant probe acts through agents alone (client credentials): open the records tools.
  await stack.onboard('india', { tools: openToAgentsAlone('all') });
  await stack.onboard('juliet', { tools: openToAgentsAlone('all') });
});

afterAll(async () => {
  await stack?.close();
});

describe('isolation evidence', () => {
  it('passes every control on a correctly onboarded tenant, with a reason for each', async () => {
    const { code, report } = await verifyJson('india');
    expect(failing(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.pass).toBe(true);
    const ids = report.checks.map((c) => c.id);
    for (const control of [
      'network.none',
      'rootfs.readonly',
      'capabilities.none',
      'no-new-privileges',
      'seccomp.default',
      'privileged.off',
      'namespaces.private',
      'user.tenant-uid',
      'limits.memory',
      'limits.cpu',
      'limits.pids',
      'runtime.tier',
      'docker-socket.absent',
      'mounts.own-only',
      'probe.interfaces',
      'probe.no-route',
      'probe.no-docker-socket',
      'probe.rootfs-readonly',
      'probe.tenant-uid',
      'probe.other-tenants',
      'probe.limits',
      'socket.type',
      'socket.owner',
      'socket.peer',
      'socket.peer-credentials',
    ])
      expect(ids).toContain(control);
    for (const check of report.checks) expect(check.why.length).toBeGreaterThan(5);
    const tenant = await stack.registry.require('india');
    expect(report.checks.find((c) => c.id === 'probe.tenant-uid')?.why).toBe(
      `uid ${tenant.uid}, gid ${tenant.uid}`,
    );
    expect(report.checks.find((c) => c.id === 'probe.no-route')?.why).toMatch(/failed with ENETUNREACH/);
  });

  it('refuses a cross-tenant attempt through the router (verify --router)', async () => {
    // `verify --router` mints agents' tokens from the development stack's IdP, as after `bulkhead up`.
    await writeDevStack(stack.ns.runDir, {
      issuer: stack.idp.issuer,
      routerUrl: stack.router.url,
      resourceUrl: stack.mcpUrl,
      initialAccessToken: INITIAL_ACCESS_TOKEN,
      agents: {},
      users: [],
      apps: {},
    });
    const client = new Client({ name: 'verify-seed', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        authProvider: { token: async () => stack.agentToken('india') },
      }),
    );
    const seeded = await client.callTool({
      name: 'records_create',
      arguments: { title: 'india only', idempotency_key: 'india-seed-1' },
    });
    expect(seeded.isError, JSON.stringify(seeded.structuredContent)).toBeFalsy();
    await client.close();
    const result = await cli('verify', 'india', '--router', '--intruder', 'juliet', '--json');
    const report = JSON.parse(result.stdout) as IsolationReport;
    expect(result.code).toBe(0);
    const check = report.checks.find((c) => c.id === 'router.cross-tenant');
    expect(check).toMatchObject({ source: 'router', pass: true });
    expect(check?.why).toContain('asked for 1 record(s) of "india" by id: all refused');
    expect(check?.why).toContain('ran as "juliet"');
  });

  it('prints a readable summary for people', async () => {
    const result = await cli('verify', 'juliet');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ {2}PASS {2}network\.none\s+NetworkMode: none/m);
    expect(result.stdout).toMatch(/isolation evidence: (\d+)\/\1 checks pass/);
  });

  it('fails, naming the control, when the container runs with the network enabled', async () => {
    await replaceWithWeakened('india', (spec) => ({
      ...spec,
      NetworkDisabled: false,
      HostConfig: { ...spec.HostConfig, NetworkMode: 'bridge' },
    }));
    const { code, report } = await verifyJson('india');
    expect(code).toBe(1);
    expect(report.pass).toBe(false);
    expect(failing(report)).toEqual(['network.none', 'probe.interfaces', 'probe.no-route']);
    expect(report.checks.find((c) => c.id === 'network.none')?.why).toContain('NetworkMode is "bridge"');
    expect(report.checks.find((c) => c.id === 'probe.interfaces')?.why).toMatch(/eth0/);
    const human = await cli('verify', 'india');
    expect(human.stdout).toMatch(/^ {2}FAIL {2}network\.none/m);
    expect(human.stdout).toContain('checks FAIL (network.none, probe.interfaces, probe.no-route)');
  });

  it("fails, naming the control, when the container can reach another tenant's volume", async () => {
    const other = stack.supervisor.driver.placement('juliet', 0);
    await replaceWithWeakened('india', (spec) => ({
      ...spec,
      HostConfig: {
        ...spec.HostConfig,
        Mounts: [
          ...(spec.HostConfig?.Mounts ?? []),
          { Type: 'volume', Source: other.volumeName, Target: '/mnt/other', ReadOnly: true },
        ],
      },
    }));
    const { report } = await verifyJson('india');
    expect(failing(report)).toEqual(['mounts.own-only', 'probe.other-tenants']);
    expect(report.checks.find((c) => c.id === 'probe.other-tenants')?.why).toContain(other.volumeName);
  });
});
