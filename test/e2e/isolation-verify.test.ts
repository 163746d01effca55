// `verify` produces isolation evidence from the live container (engine view) and from probes run
// inside it. It passes on a correctly onboarded tenant and fails, naming the control, when the
// tenant's container is replaced by one started with a weakened setting (another tenant's volume,
// the socket directories' root). A process of the tenant watching the probe inside its container
// learns no other tenant's name from it. `--router` seeds a canary record in the target and shows
// another tenant's agent refused it; with nothing to probe it fails.
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTools, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import { buildContainerSpec } from '../../supervisor/docker/container-spec.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import { CONTAINER_SOCKET_NAME } from '../../kernel/wire/runtime-endpoint.ts';
import { runCli } from '../support/cli.ts';
import { INITIAL_ACCESS_TOKEN, startTestStack, type TestStack } from '../support/stack.ts';
import { execIn } from '../support/namespace.ts';
import { writeDevStack } from '../../dev/cli/dev-stack-state.ts';
import { CANARY_TITLE, routerCaller } from '../../tenants/control-plane/router-probe.ts';

let stack: TestStack;

/** Run as the tenant inside its container: prints the probe's command line and environment. */
const PROBE_WATCHER = String.raw`
const fs = require('node:fs');
const deadline = Date.now() + 60_000;
const look = () => {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(process.pid))) {
    try {
      const cmdline = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8');
      if (!cmdline.includes('/bulkhead-probe')) continue;
      const environ = fs.readFileSync('/proc/' + pid + '/environ', 'utf8');
      process.stdout.write(JSON.stringify({ cmdline, environ }));
      process.exit(0);
    } catch {}
  }
  if (Date.now() > deadline) process.exit(3);
  setTimeout(look, 2);
};
look();
`;
const cli = (...args: string[]) =>
  runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir, entry: 'dev/cli/main.ts' }, args);

async function verifyJson(id: string): Promise<{ code: number; report: IsolationReport }> {
  const result = await cli('verify', id, '--json');
  return { code: result.code, report: JSON.parse(result.stdout) as IsolationReport };
}

const failing = (report: IsolationReport) => report.checks.filter((c) => !c.pass).map((c) => c.id);

/** `verify --router` mints agents' tokens from the development stack's IdP, as after `bulkhead up`. */
async function useDevStack(): Promise<void> {
  await writeDevStack(stack.ns.runDir, {
    issuer: stack.idp.issuer,
    routerUrl: stack.router.url,
    resourceUrl: stack.mcpUrl,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    agents: {},
    users: [],
    apps: {},
  });
}

const agentCaller = async (tenant: string) => routerCaller(stack.mcpUrl, await stack.agentToken(tenant));

function canaryId(why: string | undefined): string {
  const id = /wrote one canary record ([0-9a-f-]{36}) in/.exec(why ?? '')?.[1];
  expect(id, why).toBeDefined();
  return id!;
}

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
  // Verified once it serves, as the supervisor's own start would wait for: a check of a runtime
  // still starting (its packs before its socket) would fail for that, not for the weakened control.
  const socketPath = join(stack.supervisor.driver.placement(id, 1).socketDir, CONTAINER_SOCKET_NAME);
  const endpoint = { kind: 'unix' as const, socketPath, uid: tenant.uid };
  for (let i = 0; !(await probeHealth(endpoint).catch(() => false)); i++) {
    if (i > 300) throw new Error(`the weakened runtime of ${id} never answered healthy`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type Mount = NonNullable<NonNullable<Docker.ContainerCreateOptions['HostConfig']>['Mounts']>[number];

/** The hardened spec with one mount more, as a misconfigured supervisor could make it. */
const withMount =
  (mount: Mount) =>
  (spec: Docker.ContainerCreateOptions): Docker.ContainerCreateOptions => ({
    ...spec,
    HostConfig: { ...spec.HostConfig, Mounts: [...(spec.HostConfig?.Mounts ?? []), mount] },
  });

beforeAll(async () => {
  stack = await startTestStack('verify');
  // The cross-tenant probe acts through agents alone (client credentials): open the records tools.
  await stack.onboard('india', { tools: openToAgentsAlone('all') });
  await stack.onboard('juliet', { tools: openToAgentsAlone('all') });
  await stack.onboard('kilo', {
    tools: openToAgentsAlone(['records_create', 'records_get', 'records_list']),
  });
  await stack.onboard('lima', { tools: defaultTools() });
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
      'devices.none',
      'limits.memory',
      'limits.cpu',
      'limits.pids',
      'runtime.tier',
      'docker-socket.absent',
      'mounts.own-only',
      'disk.bounded',
      'probe.interfaces',
      'probe.no-route',
      'probe.no-docker-socket',
      'probe.rootfs-readonly',
      'probe.tenant-uid',
      'probe.own-processes',
      'probe.other-tenants',
      'probe.disk',
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
      `uid ${tenant.uid}, gid ${tenant.uid}, groups [${tenant.uid}]`,
    );
    expect(report.checks.find((c) => c.id === 'probe.no-route')?.why).toMatch(/failed with ENETUNREACH/);
  });

  it("tells the tenant's processes no other tenant's name through the probe's environment or command line", async () => {
    const { runtimeId } = (await stack.supervisor.driver.inspect('india'))!;
    // What hostile code of the tenant can do beside the probe: same UID, same PID namespace.
    const watcher = execIn(stack.ns.docker, runtimeId, ['node', '-e', PROBE_WATCHER]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await verifyJson('india')).code).toBe(0);
    const { exitCode, output } = await watcher;
    expect(exitCode, output).toBe(0);
    for (const id of ['juliet', 'kilo', 'lima']) {
      const place = stack.supervisor.driver.placement(id, 0);
      for (const name of [`"${id}"`, place.volumeName, place.socketDir]) expect(output).not.toContain(name);
    }
    expect(output).toContain('PROBE_ROOTS=');
  });

  it('seeds a canary in the target and shows the intruder refused (verify --router)', async () => {
    await useDevStack();
    const result = await cli('verify', 'india', '--router', '--intruder', 'juliet', '--json');
    expect(result.stderr).toContain('writes one canary record into "india"');
    const report = JSON.parse(result.stdout) as IsolationReport;
    const check = report.checks.find((c) => c.id === 'router.cross-tenant');
    expect(check, check?.why).toMatchObject({ source: 'router', pass: true });
    expect(result.code).toBe(0);
    const id = canaryId(check?.why);
    expect(check?.why).toContain(`an agent of "juliet" asked for it by id: refused (unknown_id)`);
    expect(check?.why).toContain('whoami with _meta naming "india" ran as "juliet"');
    // india's agent may delete: the canary is gone again, and it really was india's record.
    expect(check?.why).toContain('canary removed afterwards');
    const india = await agentCaller('india');
    const after = await india.call('records_get', { id });
    expect(after.structuredContent).toMatchObject({ error: { code: 'unknown_id' } });
    await india.close();
  });

  it('keeps one canary for a tenant whose agent may not delete, reused by every later verify', async () => {
    await useDevStack();
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const result = await cli('verify', 'kilo', '--router', '--intruder', 'juliet', '--json');
      expect(result.code, result.stdout).toBe(0);
      const check = (JSON.parse(result.stdout) as IsolationReport).checks.find(
        (c) => c.id === 'router.cross-tenant',
      );
      expect(check?.why).toContain('canary kept');
      runs.push(canaryId(check?.why));
    }
    expect(runs[1]).toBe(runs[0]);
    const kilo = await agentCaller('kilo');
    const listed = await kilo.call('records_list', { limit: 100 });
    const records = (listed.structuredContent as { records: { id: string; title: string }[] }).records;
    expect(records.filter((r) => r.title === CANARY_TITLE).map((r) => r.id)).toEqual([runs[0]]);
    await kilo.close();
  });

  it('fails, having probed nothing, when no canary can be written in the target', async () => {
    await useDevStack();
    // lima keeps the registry's defaults: its agent acting alone may call whoami only.
    const result = await cli('verify', 'lima', '--router', '--intruder', 'juliet', '--json');
    const report = JSON.parse(result.stdout) as IsolationReport;
    expect(result.code).toBe(1);
    expect(report.pass).toBe(false);
    expect(failing(report)).toEqual(['router.cross-tenant']);
    expect(report.checks.find((c) => c.id === 'router.cross-tenant')?.why).toMatch(
      /^nothing probed: the agent of "lima" may not call records_create, records_get/,
    );
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
    await replaceWithWeakened(
      'india',
      withMount({ Type: 'volume', Source: other.volumeName, Target: '/mnt/other', ReadOnly: true }),
    );
    const { report } = await verifyJson('india');
    expect(failing(report)).toEqual(['mounts.own-only', 'probe.other-tenants']);
    expect(report.checks.find((c) => c.id === 'probe.other-tenants')?.why).toContain(other.volumeName);
  });

  it("fails, naming the control, when the container can list the other tenants' socket directories", async () => {
    const other = stack.supervisor.driver.placement('juliet', 0);
    const root = dirname(other.socketDir);
    await replaceWithWeakened(
      'india',
      withMount({ Type: 'bind', Source: root, Target: root, ReadOnly: true }),
    );
    const { report } = await verifyJson('india');
    expect(failing(report)).toEqual(['mounts.own-only', 'probe.other-tenants']);
    expect(report.checks.find((c) => c.id === 'probe.other-tenants')?.why).toContain(other.socketDir);
  });

  it("fails, naming the control, when the container shares another tenant's PID namespace", async () => {
    await stack.supervisor.manager.ensure(await stack.registry.require('juliet'));
    const neighbour = (await stack.supervisor.driver.inspect('juliet'))!;
    await replaceWithWeakened('india', (spec) => ({
      ...spec,
      HostConfig: { ...spec.HostConfig, PidMode: `container:${neighbour.runtimeId}` },
    }));
    const { report } = await verifyJson('india');
    expect(failing(report)).toEqual(['namespaces.private', 'probe.own-processes']);
    expect(report.checks.find((c) => c.id === 'namespaces.private')?.why).toContain(
      `PidMode "container:${neighbour.runtimeId}"`,
    );
    // Measured inside: india's probe sees juliet's processes, run as juliet's UID.
    const juliet = await stack.registry.require('juliet');
    expect(report.checks.find((c) => c.id === 'probe.own-processes')?.why).toContain(String(juliet.uid));
  });

  it('fails, naming the controls, when the container is given a group and a host device', async () => {
    await replaceWithWeakened('india', (spec) => ({
      ...spec,
      HostConfig: {
        ...spec.HostConfig,
        GroupAdd: ['0'],
        Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/host-null', CgroupPermissions: 'rwm' }],
      },
    }));
    const { report } = await verifyJson('india');
    expect(failing(report)).toEqual(['user.tenant-uid', 'devices.none', 'probe.tenant-uid']);
    expect(report.checks.find((c) => c.id === 'devices.none')?.why).toBe('host devices: /dev/null');
    expect(report.checks.find((c) => c.id === 'probe.tenant-uid')?.why).toMatch(/groups \[.*\b0\b.*\]/);
  });
});
