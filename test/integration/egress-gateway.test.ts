// Metered egress on the real engine and Redis: tenant containers that have only `lo` reach an
// allowed loopback upstream through the in-container bridge and the egress gateway (a process
// outside every container), as an ordinary proxy client run inside the container as the tenant's
// UID (`docker exec`). Shown for runc and gVisor tenants: allowed and refused destinations, the audit
// trail of every upstream call, credentials the gateway adds that the container never holds, an
// upstream budget spent (429), and a tenant that cannot get another tenant's gateway connection.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressGateway, type RunningEgressGateway } from '../../egress/gateway.ts';
import { AuditTrail, type AuditEntry } from '../../kernel/audit/audit-trail.ts';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import { setUpstreamBudget } from '../../kernel/ratelimit/upstream-budgets.ts';
import { SecretStore } from '../../kernel/secrets/secret-store.ts';
import { connectThrough, getThrough, startUpstream, type Upstream } from '../support/egress.ts';
import { containerId } from '../support/mcp-client.ts';
import { execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const SECRET = `crm-secret-${randomBytes(12).toString('hex')}`;
const METERED_PER_MINUTE = 3;

let stack: TestStack;
let gateway: RunningEgressGateway;
let redis: Redis;
let audit: AuditTrail;
let api: Upstream;
let metered: Upstream;
let forbidden: Upstream;
const ids = new Map<string, string>();
/** B may reach only the metered upstream, which it shares with A; the api upstream is not B's. */
const policyOfB = (): EgressPolicy => ({
  mode: 'allowlist',
  hosts: [],
  packs: {},
  upstreams: { metered: { hosts: [target(metered)] } },
});

const TENANTS = [
  { tenant: 'egress-a', isolation: 'runc' },
  { tenant: 'egress-b', isolation: 'runc' },
  { tenant: 'egress-g', isolation: 'gvisor' },
] as const;

const target = (u: Upstream): string => `127.0.0.1:${u.port}`;
const id = (tenant: string): string => ids.get(tenant)!;

async function setEgress(tenant: string, egress: EgressPolicy, secrets = false): Promise<void> {
  const record = await stack.registry.require(tenant);
  await stack.registry.update(tenant, {
    expectedGeneration: record.generation,
    changes: {
      egress,
      ...(secrets ? { secrets: [{ name: 'CRM_TOKEN', ref: `secret://${tenant}/CRM_TOKEN` }] } : {}),
    },
    author: { actor: 'egress-test' },
  });
}

/** Bounded: the gateway dials on its pass; the bridge listens once its runtime has started. */
async function untilDialed(tenant: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await gateway.refresh();
    if ((gateway.stats(tenant)?.idle ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the gateway never connected to ${tenant}'s bridge`);
}

/** Egress entries of a tenant's trail, waiting (bounded) until `count` are there. */
async function egressEntries(tenant: string, count: number): Promise<AuditEntry[]> {
  let entries: AuditEntry[] = [];
  for (let i = 0; i < 100; i++) {
    entries = (await audit.entries(tenant)).filter((e) => e.tool === 'egress');
    if (entries.length >= count) return entries;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return entries;
}

beforeAll(async () => {
  stack = await startTestStack('egress', { supervisor: { healthIntervalMs: 3_600_000 } });
  [api, metered, forbidden] = await Promise.all([
    startUpstream('api'),
    startUpstream('metered'),
    startUpstream('forbidden'),
  ]);
  await Promise.all(TENANTS.map((t) => stack.onboard(t.tenant, { isolation: t.isolation })));
  for (const t of TENANTS) ids.set(t.tenant, (await containerId(stack, t.tenant))!);
  redis = new Redis(stack.ns.installation.redis);
  audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  const secrets = new SecretStore({
    redis,
    prefix: stack.ns.installation.registryPrefix,
    key: randomBytes(32),
  });
  await secrets.put('egress-a', 'CRM_TOKEN', SECRET);
  // The limiter's upstream layer: one budget for every tenant that calls the upstream.
  await setUpstreamBudget({
    redis,
    prefix: stack.ns.installation.registryPrefix,
    upstream: 'metered',
    callsPerMinute: METERED_PER_MINUTE,
  });
  const allowlist = (hosts: string[]): EgressPolicy => ({
    mode: 'allowlist',
    hosts,
    packs: {},
    upstreams: {
      crm: {
        hosts: [target(api)],
        credential: { header: 'authorization', secret: 'CRM_TOKEN', prefix: 'Bearer ' },
      },
      metered: { hosts: [target(metered)] },
    },
  });
  await setEgress('egress-a', allowlist([]), true);
  await setEgress('egress-b', policyOfB());
  await setEgress('egress-g', allowlist([]));
  gateway = await startEgressGateway({
    installation: stack.ns.installation,
    runDir: join(stack.ns.runDir, 'run'),
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    signingKey: stack.egressKey,
    secrets,
    poolSize: 2,
    maxConnections: 16,
    maxUpstreamSockets: 16,
    dialsPerSecond: 100,
    auditBacklog: 10_000,
    refreshIntervalMs: 60_000,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
  });
  await Promise.all(TENANTS.map((t) => untilDialed(t.tenant)));
}, 180_000);

afterAll(async () => {
  await gateway?.close();
  redis?.disconnect();
  await Promise.all([api, metered, forbidden].map((u) => u?.close()));
  await stack?.close();
});

describe.each(TENANTS.filter((t) => t.tenant !== 'egress-b'))('a $isolation tenant', ({ tenant }) => {
  it('still has no network interface but lo', async () => {
    const net = await execIn(stack.ns.docker, id(tenant), [
      'node',
      '-e',
      'console.log(Object.keys(require("os").networkInterfaces()).join(" "))',
    ]);
    expect(net.output.split(/\s+/).filter(Boolean)).toEqual(['lo']);
    // runc shows the kernel's view too (gVisor's /sys has no class/net).
    if (tenant === 'egress-a')
      expect((await execIn(stack.ns.docker, id(tenant), ['ls', '/sys/class/net'])).output.trim()).toBe('lo');
  });

  it('reaches an allowed upstream through CONNECT, and the call is in its audit trail', async () => {
    const before = (await egressEntries(tenant, 0)).length;
    const answer = await connectThrough(stack.ns.docker, id(tenant), target(api));
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('hello from api');
    // Two entries: the tunnel as it opened, then at its close.
    const entries = await egressEntries(tenant, before + 2);
    expect(entries.at(-2)).toMatchObject({ decision: 'permit', reason: 'tunnel_opened', agent: null });
    const call = entries.at(-1)!;
    expect(call).toMatchObject({ decision: 'permit', reason: 'tunnel', agent: null });
    expect(call.upstream).toMatchObject({
      host: '127.0.0.1',
      port: api.port,
      method: 'CONNECT',
      status: 200,
      pack: null,
      upstream: 'crm',
    });
    expect(call.upstream!.bytes_sent).toBeGreaterThan(30);
    expect(call.upstream!.bytes_received).toBeGreaterThan(30);
    expect(call.upstream!.latency_ms).toBeGreaterThanOrEqual(0);
    expect((await audit.verify(tenant)).ok).toBe(true);
  });

  it('is refused for a host outside its allowlist: 403 naming the host, audited, nothing sent', async () => {
    const answer = await connectThrough(stack.ns.docker, id(tenant), target(forbidden));
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: 'egress_denied',
      reason: 'host_not_allowed',
      host: '127.0.0.1',
      port: forbidden.port,
    });
    const named = await connectThrough(stack.ns.docker, id(tenant), 'example.com:443');
    expect(JSON.parse(named.body)).toMatchObject({ error: 'egress_denied', host: 'example.com' });
    expect(forbidden.seen).toEqual([]);
    const denied = (await egressEntries(tenant, 2)).filter((e) => e.decision === 'deny');
    expect(denied.map((e) => e.upstream?.host)).toEqual(expect.arrayContaining(['example.com']));
  });
});

describe('a replaced container', () => {
  it('gets gateway connections again without waiting for the gateway’s next pass', async () => {
    const before = id('egress-g');
    await stack.runtimes.recycle({ tenantId: 'egress-g', reason: 'egress test: a fresh container' });
    ids.set('egress-g', (await containerId(stack, 'egress-g'))!);
    expect(id('egress-g')).not.toBe(before);
    // The gateway's pass is a minute away in this test: only its re-dial after the old
    // container's connections closed can serve this (the bridge waits up to 2 s for one).
    let answer = await connectThrough(stack.ns.docker, id('egress-g'), target(api));
    for (let i = 0; i < 3 && answer.status === 503; i++)
      answer = await connectThrough(stack.ns.docker, id('egress-g'), target(api));
    expect(answer.status).toBe(200);
  });
});

describe('credentials the gateway adds', () => {
  it('reach the upstream of a plain-HTTP call by an ordinary client; the container holds them nowhere', async () => {
    const answer = await getThrough(stack.ns.docker, id('egress-a'), `http://${target(api)}/records?x=1`);
    expect(answer).toEqual({ status: 200, body: 'hello from api' });
    const request = api.seen.find((r) => r.url === '/records?x=1');
    // The gateway's value replaced the pack's own attempt at the header.
    expect(request?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(request?.headers['proxy-connection']).toBeUndefined();
    expect(request?.headers.host).toBe(target(api));
    const search = await execIn(stack.ns.docker, id('egress-a'), [
      'sh',
      '-c',
      `env; cat /proc/1/environ; grep -rlsD skip -- '${SECRET}' /data /run/mcp /tmp /app /proc/1/environ; echo done`,
    ]);
    expect(search.output).toContain('done');
    expect(search.output).not.toContain(SECRET);
    const entry = (await egressEntries('egress-a', 1)).find((e) => e.upstream?.method === 'GET');
    expect(entry?.upstream).toMatchObject({ status: 200, upstream: 'crm', port: api.port });
    expect(JSON.stringify(await audit.entries('egress-a'))).not.toContain(SECRET);
  });
});

describe('an upstream budget', () => {
  it('is shared by the tenants that use it and answers 429 with retry_after_ms once spent', async () => {
    const answers = [];
    for (const tenant of ['egress-a', 'egress-b', 'egress-a', 'egress-b'])
      answers.push(await getThrough(stack.ns.docker, id(tenant), `http://${target(metered)}/m`));
    expect(answers.slice(0, METERED_PER_MINUTE).map((a) => a.status)).toEqual([200, 200, 200]);
    const spent = answers[METERED_PER_MINUTE]!;
    expect(spent.status).toBe(429);
    const body = JSON.parse(spent.body) as { error: string; upstream: string; retry_after_ms: number };
    expect(body).toMatchObject({ error: 'upstream_budget_exceeded', upstream: 'metered', limit: 3 });
    expect(body.retry_after_ms).toBeGreaterThan(0);
    expect(metered.seen).toHaveLength(METERED_PER_MINUTE);
  });
});

describe('one tenant and another tenant’s gateway connection', () => {
  it('is judged by its own policy and audited in its own trail only', async () => {
    const before = (await egressEntries('egress-a', 0)).length;
    const answer = await connectThrough(stack.ns.docker, id('egress-b'), target(api));
    expect(answer.status).toBe(403);
    const mine = await egressEntries('egress-b', 1);
    expect(mine.at(-1)?.upstream).toMatchObject({ port: api.port, status: 403 });
    expect((await egressEntries('egress-a', 0)).length).toBe(before);
  });

  it("cannot point its bridge socket at another tenant's: the gateway does not dial it", async () => {
    const hostPathOfA = join(stack.ns.runDir, 'run', stack.ns.namespace, 'egress-a', EGRESS_SOCKET_NAME);
    // Only its own sockets are mounted: A's directory is not there to reach from inside.
    const seen = await execIn(stack.ns.docker, id('egress-b'), ['ls', '-a', '/run/mcp']);
    expect(seen.output.split(/\s+/).filter(Boolean).sort()).toEqual(['.', '..', 'egress.sock', 'mcp.sock']);
    const planted = await execIn(stack.ns.docker, id('egress-b'), [
      'sh',
      '-c',
      `rm /run/mcp/${EGRESS_SOCKET_NAME} && ln -s ${hostPathOfA} /run/mcp/${EGRESS_SOCKET_NAME}`,
    ]);
    expect(planted.exitCode, planted.output).toBe(0);
    const usedByA = gateway.stats('egress-a')!.used;
    // Egress off and on again: B's pool starts from nothing and must dial the planted path.
    await setEgress('egress-b', { mode: 'none' });
    await gateway.refresh();
    expect(gateway.stats('egress-b')).toBeUndefined();
    await setEgress('egress-b', policyOfB());
    await gateway.refresh();
    expect(gateway.stats('egress-b')).toMatchObject({ idle: 0, inUse: 0 });
    expect(gateway.stats('egress-b')!.tampered).toBeGreaterThan(0);
    expect(gateway.stats('egress-a')!.used).toBe(usedByA);
  });
});
