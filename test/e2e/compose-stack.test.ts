// docker-compose.yml run as docs/compose.md says, with no registry: the control-plane, Redis and
// Prometheus images built on this host by runtime-image/build-compose-images.sh (next to the tenant
// runtime image every test uses, which setup builds), the dev and observability profiles brought up
// under a project name, namespace, ports and run directory of its own, tenants onboarded by the CLI
// inside the stack (runc and gVisor), a token from the stack's IdP through a client-credentials grant,
// real MCP calls through the stack's router into the tenant container its supervisor started, those
// calls found by the stack's Prometheus, traced into its collector (deploy/compose/tracing.yml, the
// test's OTLP receiver as the collector), sealed into signed audit segments the CLI verifies and
// shipped to the collector; the operator's packs (Python, npm, and one that calls out through the
// egress gateway) built, approved and called; and `down -v` leaving nothing.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { composeRun, ROOT, type ComposeResult } from '../support/compose.ts';
import { AUDIT_DIR, PACKS_DIR, REDIS_SOCKET } from '../support/compose-checks.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { spansAt } from '../support/otlp-receiver.ts';
import { prometheusAt } from '../support/prometheus-server.ts';
import {
  composeStackView,
  connectToRedisSocket,
  fetcherGet,
  PACKS,
  prepareComposeStack,
  removeStackImages,
  shippedTools,
  type ComposeStackView,
} from '../support/compose-stack.ts';
import { newTraceparent, tracedClient } from '../support/trace-assertions.ts';
import { until } from '../support/until.ts';

const TENANT = 'acme';
/** A second tenant, on the gVisor tier (the engine's runsc, which setup registers). */
const GVISOR_TENANT = 'beta';
const TOOLS = 'whoami,records_create,records_get,records_list';
/** Redis's command line on the socket docker-compose.yml gives it, and the socket's group (its default). */
const REDIS_CLI = `redis-cli -s ${REDIS_SOCKET}`;
const REDIS_GID = '10003';
/** The scopes the example packs' tools ask for. */
const PACK_SCOPES = ['notes:read', 'notes:write', 'files:read', 'files:write'];

let ns: TestNamespace;
let project: string;
// What prepareComposeStack made ready (its PreparedStack says what each is).
let env: Record<string, string>;
let mcpUrl: string;
let issuer: string;
let prometheusUrl: string;
let collectorUrl: string;
let overrides: string[];
let client: Client | undefined;
let packsDir: string;
let packVersion: string;
let stack: ComposeStackView;
/** The traceparent the test's MCP client sends with every request. */
const parent = newTraceparent();

function compose(...args: string[]): Promise<ComposeResult> {
  return composeRun(
    ['-p', project, ...overrides, '--profile', 'dev', '--profile', 'observability', ...args],
    env,
  );
}

/**
 * A token of an agent acting alone for the tenant, with `scopes`: a client registered at the stack's
 * IdP with BULKHEAD_IDP_INITIAL_ACCESS_TOKEN, then a client-credentials grant for the router.
 */
async function agentToken(scopes: string[]): Promise<string> {
  const initialAccessToken = env.BULKHEAD_IDP_INITIAL_ACCESS_TOKEN ?? '';
  const agent = await registerAgentClient({
    issuer,
    initialAccessToken,
    tenant: TENANT,
    scopes,
    clientName: 'agent',
  });
  return mintClientCredentialsToken({ issuer, ...agent, resource: mcpUrl, scope: scopes.join(' ') });
}

/** `docker-compose run` of the CLI service (with `runOptions`, e.g. another entrypoint), inside the stack. */
function runCli(runOptions: string[], args: string[]): Promise<ComposeResult> {
  return composeRun(['-p', project, 'run', '--rm', '-T', ...runOptions, 'cli', ...args], env);
}

/** The control-plane image's CLI, inside the stack. */
const cli = (...args: string[]): Promise<ComposeResult> => runCli([], args);

beforeAll(async () => {
  ns = await testNamespace('compose');
  project = `bulkhead-${ns.namespace}`;
  stack = composeStackView({ docker: ns.docker, project, namespace: ns.namespace });
  ({ env, overrides, mcpUrl, issuer, prometheusUrl, collectorUrl, packsDir, packVersion } =
    await prepareComposeStack(ns));
}, 660_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  if (!ns) return;
  if (env) await compose('down', '-v', '--remove-orphans', '-t', '2');
  await ns.cleanup();
  await removeStackImages(ns.namespace, packVersion);
}, 120_000);

describe('docker-compose.yml on a host without a registry', () => {
  it('comes up healthy with the dev profile, on images built here', async () => {
    const up = await compose('up', '-d');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).not.toMatch(/Pulling/);
    await stack.waitFor(
      'the router',
      'router',
      async () => (await fetch(mcpUrl.replace(/\/mcp$/, '/healthz'))).ok,
    );
    await stack.waitFor(
      'the IdP',
      'dev-idp',
      async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).ok,
    );
    const ps = await compose('ps', '--services', '--filter', 'status=running');
    expect(ps.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'dev-idp',
      'egress',
      'otlp-collector',
      'prometheus',
      'redis',
      'router',
      'supervisor',
    ]);
    // The control-plane image holds no development code: the router has neither dev/ nor the
    // development IdP's library; the dev IdP's own image has both.
    const has = (path: string): string =>
      `process.stdout.write(String(require('node:fs').existsSync('/app/${path}')))`;
    for (const path of ['dev', 'node_modules/oidc-provider']) {
      expect((await compose('exec', '-T', 'router', 'node', '-e', has(path))).stdout, path).toBe('false');
      expect((await compose('exec', '-T', 'dev-idp', 'node', '-e', has(path))).stdout, path).toBe('true');
    }
    // Redis from Debian's package, as the package's user, durable as the file asks.
    const durable = `id -un; ${REDIS_CLI} config get appendonly`;
    const redis = await compose('exec', '-T', 'redis', 'sh', '-c', durable);
    expect(redis.stdout.split('\n').filter(Boolean)).toEqual(['redis', 'appendonly', 'yes']);
  });

  it("reaches Redis over its socket alone: no network, no TCP, only the socket's group", async () => {
    // No network namespace but its own loopback, and nothing listening on TCP even there.
    const [redisContainer] = await ns.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project}`, 'com.docker.compose.service=redis'] },
    });
    const inspected = await ns.docker.getContainer(redisContainer?.Id ?? '').inspect();
    expect(inspected.HostConfig.NetworkMode).toBe('none');
    const tcp = await compose('exec', '-T', 'redis', 'redis-cli', '-h', '127.0.0.1', '-p', '6379', 'ping');
    expect(tcp.stdout + tcp.stderr).toMatch(/Connection refused/);
    // Every client the supervisor, the router and the egress gateway opened is on the socket.
    const clients = await compose('exec', '-T', 'redis', 'sh', '-c', `${REDIS_CLI} client list`);
    const addresses = clients.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => /\baddr=(\S+)/.exec(line)?.[1]);
    expect(addresses.length).toBeGreaterThan(3);
    for (const address of addresses) expect(address).toBe(`${REDIS_SOCKET}:0`);
    // The socket's volume mounted into a container of the router's UID without the socket's group
    // (a compromised service would need both): refused. With the group, as the file gives it: in.
    const image = `bulkhead/control-plane:${ns.namespace}`;
    const volume = `${project}_redis-socket`;
    expect(await connectToRedisSocket({ volume, image, groups: [] })).toBe('EACCES');
    expect(await connectToRedisSocket({ volume, image, groups: [REDIS_GID] })).toBe('connected');
  });

  it('onboards tenants through the CLI inside the stack, onto the host engine, runc and gVisor', async () => {
    for (const [tenant, runtime] of [
      [TENANT, 'runc'],
      [GVISOR_TENANT, 'runsc'],
    ] as const) {
      const onboard = await cli('onboard', tenant, '--isolation', runtime === 'runsc' ? 'gvisor' : 'runc');
      expect(onboard.code, onboard.stderr).toBe(0);
      expect(onboard.stdout).toMatch(new RegExp(`Tenant ${tenant} is ready in \\d+ ms`));
      expect(onboard.stdout).toMatch(/isolation evidence: (\d+)\/\1 checks pass/);
      const tenants = await ns.docker.listContainers({
        filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.tenant}=${tenant}`] },
      });
      expect(tenants.map((c) => c.Names[0])).toEqual([`/bulkhead-${ns.namespace}-${tenant}`]);
      expect(tenants[0]?.Image).toBe(RUNTIME_IMAGE);
      expect((await ns.docker.getContainer(tenants[0]!.Id).inspect()).HostConfig.Runtime).toBe(runtime);
    }
    const update = await cli('update', TENANT, '--tools', TOOLS);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain(`Updated ${TENANT}: generation 1 -> 2`);
  });

  it("serves real MCP calls with a token from the stack's IdP", async () => {
    // The file's own healthchecks pass (the router's first check runs 10 s after its start).
    await stack.waitFor(
      'a healthy router',
      'router',
      async () => (await stack.health('router')) === 'healthy',
    );
    expect(await stack.health('redis')).toBe('healthy');
    expect((await fetch(mcpUrl, { method: 'POST', body: '{}' })).status).toBe(401);
    const token = await agentToken([...ALL_SCOPES]);
    // A stock client that sends a W3C traceparent with every request (its transport's headers).
    const mcp = await tracedClient(mcpUrl, token, { traceparent: parent.traceparent });
    client = mcp;
    const { tools } = await mcp.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS.split(',').sort());
    const create = (): ReturnType<Client['callTool']> =>
      mcp.callTool({
        name: 'records_create',
        arguments: { title: 'from compose', idempotency_key: 'compose-create-1' },
      });
    const first = await create();
    expect(first.isError, JSON.stringify(first.structuredContent)).toBeFalsy();
    const { id } = (first.structuredContent as { record: { id: string } }).record;
    // The same key again is a replay of the first result, not a second record.
    expect((await create()).structuredContent).toEqual(first.structuredContent);
    const got = await mcp.callTool({ name: 'records_get', arguments: { id } });
    expect(got.structuredContent).toMatchObject({ record: { id, title: 'from compose' } });
    const listed = await mcp.callTool({ name: 'records_list', arguments: {} });
    expect((listed.structuredContent as { records: { id: string }[] }).records.map((r) => r.id)).toEqual([
      id,
    ]);
  });

  it("is scraped by the stack's Prometheus: the calls above, every process, the shipped rules", async () => {
    const prometheus = prometheusAt(prometheusUrl, { scraping: true, evaluating: true });
    const value = async (promql: string): Promise<number | undefined> =>
      (await prometheus.query(promql))[0]?.value;
    // Each process scraped every 15 s (deploy/prometheus/prometheus.yml), each on its own clock.
    await prometheus.waitFor('sum(bulkhead_tool_calls_total{tool=~"records_.*"})', (calls) => calls === 4);
    await prometheus.waitFor('bulkhead_runtimes{state="running"}', (running) => running === 2);
    for (const job of ['router', 'supervisor', 'egress'])
      expect(await value(`up{job="bulkhead-${job}"}`), job).toBe(1);
    expect(await value('bulkhead_idempotency_replays_total')).toBe(1);
    // The alerting rules the repository ships, every one of them loaded and evaluated without error.
    const shipped = parse(await readFile(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string }[] }[];
    };
    const loaded = await prometheus.settledRules(
      (rules) => rules.length > 0 && rules.every((r) => r.health === 'ok'),
    );
    expect(loaded.map((r) => r.name).sort()).toEqual(
      shipped.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(),
    );
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
  }, 120_000);

  it("traces the calls into the stack's collector: the client's trace, the supervisor, the runtime", async () => {
    const call = 'tools/call records_create';
    const names = [call, 'runtime ensure', 'runtime tools/call', 'execute_tool records_create'];
    const trace = async () => (await spansAt(collectorUrl)).filter((s) => s.traceId === parent.traceId);
    // The exporters send every second: a bounded wait until the trace holds these spans.
    await expect
      .poll(async () => (await trace()).map((s) => s.name), { timeout: 30_000 })
      .toEqual(expect.arrayContaining(names));
    const spans = await trace();
    // Two records_create calls (the second a replay of the first): each a request span of its own.
    const creates = spans.filter((s) => s.name === call);
    expect(creates).toHaveLength(2);
    for (const request of creates) {
      expect(request.parentSpanId).toBe(parent.spanId);
      expect(request.resource['service.name']).toBe('bulkhead-router');
      expect(request.attributes).toMatchObject({
        'gen_ai.tool.name': 'records_create',
        'bulkhead.tenant': TENANT,
      });
    }
    // The runtime's first ensure by this router is a supervisor job, traced as part of the call.
    const ensures = spans.filter((s) => s.name === 'runtime ensure');
    expect(ensures.length).toBeGreaterThan(0);
    for (const ensure of ensures) expect(ensure.resource['service.name']).toBe('bulkhead-supervisor');
    // The runtime's spans came back through the router (the container has no network).
    const tool = spans.find((s) => s.name === 'execute_tool records_create');
    const runtimeCall = spans.find((s) => s.spanId === tool?.parentSpanId);
    expect(runtimeCall?.name).toBe('runtime tools/call');
    // Nothing of the arguments in any attribute.
    expect(JSON.stringify(spans)).not.toContain('from compose');
  }, 60_000);

  it("seals the calls' audit records into signed segments that the CLI verifies and exports", async () => {
    /** The records calls in the sealed trail, as `audit export` gives them, and whether each is in a segment. */
    const sealedCalls = async () => {
      const exported = await cli('audit', 'export', TENANT, '--format', 'jsonl');
      return exported.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { tool?: string; segment?: number })
        .filter((record) => record.tool?.startsWith('records_'))
        .map((record) => ({ tool: record.tool, inSegment: (record.segment ?? 0) > 0 }))
        .sort((a, b) => String(a.tool).localeCompare(String(b.tool)));
    };
    // The supervisor seals every 2 s: records_create, its replay, records_get and records_list.
    const calls = ['records_create', 'records_create', 'records_get', 'records_list'];
    const inSegments = calls.map((tool) => ({ tool, inSegment: true }));
    await expect.poll(sealedCalls, { timeout: 60_000, interval: 1_000 }).toEqual(inSegments);
    // And shipped to the collector as OTLP logs for the SIEM, each record's body as export gives it.
    const shipped = () => shippedTools(collectorUrl, TENANT);
    await expect.poll(shipped, { timeout: 30_000, interval: 1_000 }).toEqual(calls);
    const verified = await cli('audit', 'verify', TENANT);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/intact: segments 1-\d+, \d+ entries/);
    // The CLI reads the segments and can change none of them (the volume is read-only to it).
    const forged = JSON.stringify(`${AUDIT_DIR}/${TENANT}/forged.jsonl`);
    const write = await runCli(
      ['--entrypoint', 'node'],
      [
        '-e',
        `try { require('node:fs').writeFileSync(${forged}, '{}'); console.log('written'); } catch (e) { console.log(e.code); }`,
      ],
    );
    expect(write.stdout.trim()).toBe('EROFS');
  }, 120_000);

  it("builds, approves and serves the operator's own packs, all through the CLI inside the stack", async () => {
    // The npm pack's dependencies were installed on the host (the CLI has no npm): checked, not run
    // (`--installed`; the Python pack has none to check).
    const npm = await cli('pack', 'build', `${PACKS_DIR}/files`);
    expect(npm.stderr).toMatch(/npm is not installed here: .* then build with --installed/);
    for (const name of PACKS) {
      const built = await cli('pack', 'build', `${PACKS_DIR}/${name}`, '--installed');
      expect(built.code, built.stderr).toBe(0);
      const approved = await cli('pack', 'approve', `${name}@${packVersion}`, '--yes');
      expect(approved.code, approved.stderr).toBe(0);
    }
    // Enabled for agents acting alone: the tenant's YAML, exported, given the pins and applied back
    // from the one host directory the CLI reads.
    const exported = await cli('export', TENANT);
    const file = parse(exported.stdout) as { tenants: Record<string, unknown>[] };
    file.tenants[0]!.packs = PACKS.map((name) => ({ name, version: packVersion, agentsAlone: true }));
    // The fetcher may reach the dev IdP (by address: names must not resolve to private ones), only.
    const [idp, router] = [await stack.addressOf('dev-idp', 'edge'), await stack.addressOf('router', 'edge')];
    const hosts = [`${idp}:9400`];
    file.tenants[0]!.egress = { mode: 'allowlist', hosts: [], packs: { fetcher: { hosts } }, upstreams: {} };
    await writeFile(join(packsDir, `${TENANT}.yaml`), stringify(file));
    const applied = await cli('apply', '-f', `${PACKS_DIR}/${TENANT}.yaml`, '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    // The IdP grants the pack's scopes: it reads them from the router's metadata.
    const token = await agentToken([...ALL_SCOPES, ...PACK_SCOPES]);
    const mcp = await tracedClient(mcpUrl, token, {});
    try {
      // A new pin is served from the router's next pass (5 s, router/tools/pin-watcher.ts): re-listed.
      const lists = async (): Promise<boolean> => {
        const names = (await mcp.listTools()).tools.map((t) => t.name);
        return names.includes('notes_add') && names.includes('notes_list');
      };
      await until(lists, "the router to serve the pinned packs' tools", 250);
      const added = await mcp.callTool({
        name: 'notes_add',
        arguments: { text: 'from compose', idempotency_key: 'compose-note-1' },
      });
      expect(added.isError, JSON.stringify(added.content)).toBeFalsy();
      const listed = await mcp.callTool({ name: 'notes_list', arguments: {} });
      expect(JSON.stringify(listed.content)).toContain('from compose');
      const allowed = await mcp.callTool({ name: 'files_list_allowed_directories', arguments: {} });
      expect(JSON.stringify(allowed.content)).toContain('/data/packs/files');
      // Out through the egress gateway's container, once its pass dialed the new runtime's bridge.
      const discovery = `http://${idp}:9400/.well-known/openid-configuration`;
      const reached = async () =>
        (JSON.parse((await fetcherGet(mcp, discovery)).body ?? '{}') as { issuer?: string }).issuer ===
        issuer;
      await until(reached, 'the fetcher to reach the IdP through the gateway', 1_000);
      const denied = await fetcherGet(mcp, `http://${router}:8080/healthz`);
      expect(denied.status).toBe(403);
      expect(JSON.parse(denied.body ?? '{}')).toMatchObject({ error: 'egress_denied' });
    } finally {
      await mcp.close();
    }
  }, 180_000);

  it('offboards through the CLI, and `down -v` leaves no container, volume or network', async () => {
    await client?.close();
    client = undefined;
    for (const tenant of [TENANT, GVISOR_TENANT]) {
      const offboard = await cli('offboard', tenant, '--yes');
      expect(offboard.code, offboard.stderr).toBe(0);
      expect(offboard.stdout).toContain(`Destroyed for ${tenant}: container, data volume`);
    }
    const before = await stack.leftovers();
    // The stack's long-running services, and no tenant container left after the offboarding.
    const services = ['dev-idp', 'egress', 'otlp-collector', 'prometheus', 'redis', 'router', 'supervisor'];
    expect(
      before.containers
        .map((name) => services.find((s) => new RegExp(`[-_]${s}[-_]\\d+$`).test(name)))
        .sort(),
    ).toEqual(services);
    expect(before.volumes.sort()).toEqual([
      `${project}_audit-segments`,
      `${project}_cli-state`,
      `${project}_prometheus-data`,
      `${project}_redis-data`,
      `${project}_redis-socket`,
    ]);
    const down = await compose('down', '-v', '-t', '5');
    expect(down.code, down.stderr).toBe(0);
    expect(await stack.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
  });
});
