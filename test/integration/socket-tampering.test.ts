// A compromised tenant runtime owns its socket directory and puts something else at its socket path:
// a symlink to a socket the host listens on, a symlink to another tenant's socket, a FIFO or
// regular file, or a socket of another UID. On the real engine, for runc and gVisor tenants: the
// router sends nothing anywhere (the test's socket sees no connection, the other tenant's runtime
// no request), the agent gets `transient`, `verify` fails naming the socket controls, the event is
// in the tenant's audit trail and counted, and the tenant is served again by a fresh container.
//
// How the runtime tampers: under runc, live, from inside its container (`docker exec` as the
// tenant's UID). Under gVisor the sandbox cannot rename, replace or unlink the host socket the
// gofer created for it (EPERM, checked below), so a compromised runtime can only plant its path
// while it has not bound it yet: the test starts the tenant's container (same hardened spec) with
// an entrypoint that plants the path and serves on another name.
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { buildContainerSpec } from '../../supervisor/docker/container-spec.ts';
import { inspectRuntimeSocket, runtimeRequestOptions } from '../../supervisor/client/runtime-socket.ts';
import { socketTamperKey } from '../../kernel/redis/keys.ts';
import { DISPATCH_DEFAULTS } from '../../router/dispatch/tenant-dispatcher.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { request } from 'node:http';
import { agentClient, containerId, containerName, volumeTitles, write } from '../support/mcp-client.ts';
import { execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** Longer than the runtime's HTTP keep-alive (5 s): the router's next call opens a new connection. */
const PAST_KEEP_ALIVE_MS = 5_500;
const OTHER_UID = 4_242;

let stack: TestStack;
let redis: Redis;
let audit: AuditTrail;

interface Listener {
  path: string;
  connections: number;
  server: Server;
}

/**
 * A counting socket server, bound under a scratch name and renamed to `path`: closing a server
 * unlinks the name it was bound to, which must not remove the fresh runtime's socket afterwards.
 */
async function listen(path: string): Promise<Listener> {
  const listener: Listener = { path, connections: 0, server: createServer() };
  listener.server.on('connection', (socket) => {
    listener.connections += 1;
    socket.destroy();
  });
  const scratch = join(stack.ns.runDir, `listener-${randomUUID()}.sock`);
  await new Promise<void>((resolve) => listener.server.listen(scratch, resolve));
  renameSync(scratch, path);
  return listener;
}

const close = (listener: Listener): Promise<unknown> =>
  new Promise((resolve) => listener.server.close(resolve));

const socketDir = (tenant: string): string => stack.supervisor.driver.placement(tenant, 0).socketDir;
const socketPath = (tenant: string): string => join(socketDir(tenant), 'mcp.sock');

/** The other tenant's request counters, read through the checked connection. */
async function served(tenant: TenantRecord): Promise<{ refused: number; calls: number }> {
  const endpoint = { kind: 'unix' as const, socketPath: socketPath(tenant.id), uid: tenant.uid };
  return new Promise((resolve, reject) => {
    const req = request({ ...runtimeRequestOptions(endpoint), path: '/healthz' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as never));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Tampering {
  name: string;
  /** Shell run as the tenant: plants its socket path (mcp.sock), its real server sits elsewhere. */
  plant: (target: { host: string; victim: string }) => string;
  /** A socket of another UID is put at the path (by the test, as that other UID would). */
  stranger?: boolean;
  /** The socket controls `verify` must fail. */
  fails: string[];
}

const ALL = ['socket.type', 'socket.owner', 'socket.peer', 'socket.peer-credentials'];
const TAMPERINGS: Tampering[] = [
  { name: 'a symlink to a host socket', plant: (t) => `ln -s ${t.host} /run/mcp/mcp.sock`, fails: ALL },
  {
    name: "a symlink to another tenant's socket",
    plant: (t) => `ln -s ${t.victim} /run/mcp/mcp.sock`,
    fails: ALL,
  },
  { name: 'a regular file', plant: () => 'echo "not a socket" > /run/mcp/mcp.sock', fails: ALL },
  { name: 'a FIFO', plant: () => 'mkfifo /run/mcp/mcp.sock', fails: ALL },
  {
    name: 'a socket owned by another UID',
    plant: () => 'true',
    stranger: true,
    fails: ['socket.owner', 'socket.peer', 'socket.peer-credentials'],
  },
];

/** runc: the live runtime moves its socket aside and plants the path, from inside its container. */
async function tamperLive(tenant: TenantRecord, script: string): Promise<void> {
  const id = await containerId(stack, tenant.id);
  // docker exec runs as the container's user: the tenant's UID, with none of root's powers.
  const result = await execIn(stack.ns.docker, id!, [
    '/bin/sh',
    '-c',
    `mv /run/mcp/mcp.sock /run/mcp/real.sock && ${script}`,
  ]);
  expect(result.exitCode, result.output).toBe(0);
}

/** gVisor: the compromised runtime plants its path before binding, and serves on another name. */
async function tamperAtStart(tenant: TenantRecord, script: string): Promise<void> {
  const id = await containerId(stack, tenant.id);
  await stack.ns.docker.getContainer(id!).remove({ force: true });
  // What the supervisor gives every new container: an empty socket directory.
  rmSync(socketPath(tenant.id), { force: true });
  rmSync(join(socketDir(tenant.id), 'egress.sock'), { force: true });
  const spec: Docker.ContainerCreateOptions = buildContainerSpec(
    stack.supervisor.manager.specFor(tenant),
    stack.supervisor.driver.placement(tenant.id, 99),
  );
  spec.Entrypoint = ['/bin/sh', '-c', `${script} && exec node /app/server.mjs`];
  spec.Env = (spec.Env ?? []).map((e) =>
    e.startsWith('BULKHEAD_SOCKET_PATH=') ? 'BULKHEAD_SOCKET_PATH=/run/mcp/real.sock' : e,
  );
  await (await stack.ns.docker.createContainer(spec)).start();
  for (let i = 0; i < 200 && !existsSync(join(socketDir(tenant.id), 'real.sock')); i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(existsSync(join(socketDir(tenant.id), 'real.sock'))).toBe(true);
}

beforeAll(async () => {
  stack = await startTestStack('socktamper', {
    // Health passes and the router's periodic tool check would meet the tampered socket before the
    // agent's call does (and recycle it): both off here, the tests drive every connection.
    supervisor: { healthIntervalMs: 3_600_000, drainSeconds: 2, metricsPort: 0 },
    router: { toolCheckIntervalMs: 3_600_000 },
  });
  await Promise.all([
    stack.onboard('victim', { isolation: 'runc' }),
    stack.onboard('mallory', { isolation: 'runc' }),
    stack.onboard('gmallory', { isolation: 'gvisor' }),
  ]);
  redis = new Redis(stack.ns.installation.redis);
  audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe.each([
  { tier: 'runc', tenantId: 'mallory', tamper: tamperLive },
  { tier: 'gvisor', tenantId: 'gmallory', tamper: tamperAtStart },
])('socket tampering on $tier', ({ tier, tenantId, tamper }) => {
  let client: Client;
  let tenant: TenantRecord;
  let victim: TenantRecord;

  beforeAll(async () => {
    tenant = await stack.registry.require(tenantId);
    victim = await stack.registry.require('victim');
    client = await agentClient(stack, tenantId);
    expect((await write(client, `${tier}-first`)).ok).toBe(true);
  });

  afterAll(async () => {
    await client?.close();
  });

  if (tier === 'gvisor')
    it('a live runtime cannot replace the host socket its gofer created (EPERM)', async () => {
      const id = await containerId(stack, tenantId);
      const result = await execIn(stack.ns.docker, id!, [
        '/bin/sh',
        '-c',
        'rm -f /run/mcp/mcp.sock; mv -f /run/mcp/mcp.sock /run/mcp/x.sock; ln -sf /tmp /run/mcp/mcp.sock',
      ]);
      expect(result.output).toMatch(/Operation not permitted/);
      expect(inspectRuntimeSocket(socketPath(tenantId))).toMatchObject({ kind: 'socket', uid: tenant.uid });
    });

  it("the supervisor's health pass refuses it too, records the event and recycles", async () => {
    const host = await listen(join(stack.ns.runDir, `health-${tier}.sock`));
    const before = await containerId(stack, tenantId);
    const auditBefore = (await audit.entries(tenantId)).length;
    await tamper(tenant, `ln -s ${host.path} /run/mcp/mcp.sock`);
    await stack.supervisor.health.runOnce();
    expect(stack.supervisor.health.recycled.entries).toContainEqual({
      tenantId,
      reason: 'socket tampered with',
    });
    expect(host.connections).toBe(0);
    expect((await audit.entries(tenantId)).slice(auditBefore)).toContainEqual(
      expect.objectContaining({ agent: 'supervisor-health', tool: 'runtime-socket', decision: 'deny' }),
    );
    expect(await containerId(stack, tenantId)).not.toBe(before);
    expect(inspectRuntimeSocket(socketPath(tenantId))).toMatchObject({ kind: 'socket', uid: tenant.uid });
    const metrics = await (await fetch(stack.supervisor.metricsUrl!)).text();
    const counted = await redis.hget(socketTamperKey(stack.ns.installation.registryPrefix), tenantId);
    expect(Number(counted)).toBeGreaterThan(0);
    expect(metrics).toContain(`bulkhead_runtime_socket_tampering_total{tenant="${tenantId}"} ${counted}`);
    // The router learns of the recycle (epoch) and moves its route onto the fresh container.
    expect((await write(client, `${tier}-after-health`)).ok).toBe(true);
    await close(host);
  });

  // A FIFO made inside gVisor stays inside the sandbox (the host sees no file), so it cannot be
  // planted at the host path; the regular file is the gVisor case of "a file or FIFO".
  const cases = TAMPERINGS.filter((t) => tier === 'runc' || t.name !== 'a FIFO');
  it.each(cases)(
    '$name: nothing is sent, verify fails, the event is recorded, a fresh runtime serves',
    async (t) => {
      const host = await listen(join(stack.ns.runDir, `host-${tier}.sock`));
      const before = await containerId(stack, tenantId);
      const victimBefore = await served(victim);
      const victimTitles = await volumeTitles(stack, 'victim');
      const tamperedBefore = Number(
        (await redis.hget(socketTamperKey(stack.ns.installation.registryPrefix), tenantId)) ?? 0,
      );
      const auditBefore = (await audit.entries(tenantId)).length;

      await tamper(tenant, t.plant({ host: host.path, victim: socketPath('victim') }));
      let stranger: Listener | undefined;
      if (t.stranger) {
        // The tenant vacated its path (and may open its directory to others with chmod).
        stranger = await listen(socketPath(tenantId));
        chownSync(stranger.path, OTHER_UID, OTHER_UID);
      }
      const planted = inspectRuntimeSocket(socketPath(tenantId));
      expect(planted?.kind === 'socket' && planted.uid === tenant.uid).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, PAST_KEEP_ALIVE_MS));

      const report = await stack.runtimes.verify(tenantId);
      expect(report.pass).toBe(false);
      const failingSocket = report.checks
        .filter((c) => !c.pass && c.id.startsWith('socket.'))
        .map((c) => c.id);
      expect(failingSocket).toEqual(t.fails);

      const outcome = await write(client, `${tier}-tampered`);
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatchObject({ error_class: 'transient', retryable: true });

      // Nothing reached the host's socket, the other UID's socket or the other tenant's runtime.
      expect(host.connections).toBe(0);
      expect(stranger?.connections ?? 0).toBe(0);
      expect(await served(victim)).toMatchObject(victimBefore);
      expect(await volumeTitles(stack, 'victim')).toEqual(victimTitles);

      // The security event: in the audit trail (the router's report) and counted.
      const entries = (await audit.entries(tenantId)).slice(auditBefore);
      expect(entries).toContainEqual(
        expect.objectContaining({
          agent: 'bulkhead-router',
          tool: 'runtime-socket',
          decision: 'deny',
          reason: expect.stringContaining('runtime socket tampered with') as unknown,
        }),
      );
      expect((await audit.verify(tenantId)).ok).toBe(true);
      const tamperedAfter = Number(
        (await redis.hget(socketTamperKey(stack.ns.installation.registryPrefix), tenantId)) ?? 0,
      );
      expect(tamperedAfter).toBeGreaterThan(tamperedBefore);

      // Recovery: a fresh container, a clean socket directory, and the tenant is served again.
      let recovered = await write(client, `${tier}-after-${t.name}`);
      for (let i = 0; i < 60 && !recovered.ok; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        recovered = await write(client, `${tier}-after-${t.name}`);
      }
      expect(recovered).toMatchObject({ ok: true });
      const after = await containerId(stack, tenantId);
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      // Nothing planted survives: the runtime's socket and, once started, its egress bridge's.
      expect(readdirSync(socketDir(tenantId)).filter((f) => f !== 'egress.sock')).toEqual(['mcp.sock']);
      expect(inspectRuntimeSocket(socketPath(tenantId))).toMatchObject({ kind: 'socket', uid: tenant.uid });
      const socketControls = (await stack.runtimes.verify(tenantId)).checks.filter((c) =>
        c.id.startsWith('socket.'),
      );
      expect(socketControls.map((c) => [c.id, c.pass])).toEqual(ALL.map((id) => [id, true]));
      const info = await stack.ns.docker.getContainer(containerName(stack, tenantId)).inspect();
      expect(info.HostConfig.Runtime).toBe(tier === 'gvisor' ? 'runsc' : 'runc');
      expect(host.connections).toBe(0);
      await Promise.all([host, ...(stranger ? [stranger] : [])].map(close));
      rmSync(host.path, { force: true });
    },
  );

  // A wake from paused hands the runtime out after a check of its socket alone (no health probe):
  // a path planted before the freeze is refused there, before anyone connects to it.
  if (tier === 'runc')
    it('a path planted before a pause is refused at the wake: nothing sent, recorded, replaced', async () => {
      const host = await listen(join(stack.ns.runDir, `paused-${tier}.sock`));
      const before = await containerId(stack, tenantId);
      const auditBefore = (await audit.entries(tenantId)).length;
      await tamper(tenant, `ln -s ${host.path} /run/mcp/mcp.sock`);
      expect(await stack.supervisor.manager.idle(tenantId, { event: 'pause' })).toBe(true);
      // Past the route's freshness: the call reads the new epoch and asks for a wake.
      await new Promise((resolve) => setTimeout(resolve, DISPATCH_DEFAULTS.routeFreshnessMs + 100));

      const outcome = await write(client, `${tier}-woken-tampered`);
      expect(outcome.ok).toBe(false);
      expect(host.connections).toBe(0);
      expect((await audit.entries(tenantId)).slice(auditBefore)).toContainEqual(
        expect.objectContaining({ agent: 'supervisor-start', tool: 'runtime-socket', decision: 'deny' }),
      );

      let recovered = await write(client, `${tier}-after-woken-tampered`);
      for (let i = 0; i < 60 && !recovered.ok; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        recovered = await write(client, `${tier}-after-woken-tampered`);
      }
      expect(recovered).toMatchObject({ ok: true });
      expect(await containerId(stack, tenantId)).not.toBe(before);
      expect(inspectRuntimeSocket(socketPath(tenantId))).toMatchObject({ kind: 'socket', uid: tenant.uid });
      expect(host.connections).toBe(0);
      await close(host);
      rmSync(host.path, { force: true });
    });
});
