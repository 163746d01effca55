// A compromised runtime answers the gateway's connections itself: on real Redis, with its bridge
// socket (owned by the tenant's UID, as a container's would be) served by this test. It challenges
// each connection as a bridge must, takes the gateway's proof, then spoils it (a line that is no
// preamble, then an HTTP request without one); the gateway drops each, reaches no upstream, and
// re-dials at most its dials-per-second bound, not in a loop.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEgressGateway, type RunningEgressGateway } from '../../egress/gateway.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { EGRESS_SOCKET_NAME, formatChallenge } from '../../kernel/wire/egress-tunnel.ts';
import { tenantSocketDir } from '../../kernel/wire/runtime-endpoint.ts';
import { startUpstream, type Upstream } from '../support/egress.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

const DIALS_PER_SECOND = 20;
const WATCH_MS = 2_000;

let ns: TestNamespace;
let redis: Redis;
let upstream: Upstream;
let bridge: Server;
let gateway: RunningEgressGateway;
let accepted = 0;

beforeAll(async () => {
  ns = await testNamespace('egress-hostile');
  redis = new Redis(ns.installation.redis);
  upstream = await startUpstream('victim');
  const registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  const tenant = await registry.create({
    id: 'spoiler',
    plan: PLANS.small,
    isolation: 'runc',
    egress: {
      mode: 'allowlist',
      hosts: [`127.0.0.1:${upstream.port}`],
      packs: {},
      upstreams: {},
    },
  });
  const dir = tenantSocketDir(ns.runDir, ns.namespace, tenant.id);
  mkdirSync(dir, { recursive: true });
  const request = `GET http://127.0.0.1:${upstream.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  bridge = createServer((socket) => {
    accepted += 1;
    socket.on('error', () => socket.destroy());
    socket.write(formatChallenge(randomBytes(32)));
    // Once the proof came: every other connection not a preamble at all; the rest a request with
    // no preamble line.
    socket.once('data', () => socket.end(accepted % 2 === 0 ? 'not a preamble line\n' : request));
  });
  const socketPath = join(dir, EGRESS_SOCKET_NAME);
  await new Promise<void>((resolve) => bridge.listen(socketPath, resolve));
  chownSync(socketPath, tenant.uid, tenant.uid);
  gateway = await startEgressGateway({
    installation: ns.installation,
    runDir: ns.runDir,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    signingKey: generateKeyPairSync('ed25519').privateKey,
    poolSize: 4,
    maxConnections: 16,
    maxUpstreamSockets: 16,
    dialsPerSecond: DIALS_PER_SECOND,
    auditBacklog: 10_000,
    refreshIntervalMs: 60_000,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
  });
});

afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => bridge?.close(resolve));
  await upstream?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

it('drops spoiled connections, reaches no upstream, and re-dials within its bound', async () => {
  await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
  const stats = gateway.stats('spoiler');
  // It kept re-dialing (each spoiled connection was taken, then replaced) ...
  expect(stats?.used).toBeGreaterThan(4);
  expect(accepted).toBeGreaterThan(4);
  // ... but no faster than the bound: one window per started second, the first one included.
  expect(accepted).toBeLessThanOrEqual(DIALS_PER_SECOND * (Math.ceil(WATCH_MS / 1_000) + 1));
  expect(upstream.seen).toEqual([]);
});
