// Benchmark (not a test): what the egress path adds to one upstream call. The in-container bridge
// (runtime-image/src/egress-bridge.ts) runs here in this process, its socket handed to the tenant's
// UID as a container's would be, and the gateway (egress/gateway.ts) dials it like any tenant's,
// against the shared Redis under a namespace of its own (the upstream budget's Lua decision is paid
// per call). Compared: a GET to a loopback upstream directly, through the proxy as absolute-form HTTP
// (a metered upstream: allowlist, budget, audit append), and a CONNECT tunnel opened per call.
//   node test/bench/egress.ts [--calls 500]
import { chownSync, mkdirSync } from 'node:fs';
import { request, type RequestOptions } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startEgressGateway } from '../../egress/gateway.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import { tenantSocketDir } from '../../kernel/wire/runtime-endpoint.ts';
import { startEgressBridge } from '../../runtime-image/src/egress-bridge.ts';
import { startUpstream } from '../support/egress.ts';
import { testNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';
import { printFigures, timed } from './figures.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '500' } } });
const calls = Number(values.calls);
const silent = pino({ level: 'silent' });

const ns = await testNamespace('bench-egress');
const upstream = await startUpstream('bench');
const redis = new Redis(ns.installation.redis);
const registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
const target = `127.0.0.1:${upstream.port}`;
const tenant = await registry.create({
  id: 'bench',
  plan: PLANS.small,
  isolation: 'runc',
  egress: { mode: 'allowlist', hosts: [], packs: {}, upstreams: { api: { hosts: [target] } } },
});
const dir = tenantSocketDir(ns.runDir, ns.namespace, tenant.id);
mkdirSync(dir, { recursive: true });
const port = await freePort();
const bridge = await startEgressBridge({
  socketPath: join(dir, EGRESS_SOCKET_NAME),
  port,
  packs: [],
  waitMs: 2_000,
  maxIdle: 16,
  logger: silent,
});
chownSync(join(dir, EGRESS_SOCKET_NAME), tenant.uid, tenant.uid);
const gateway = await startEgressGateway({
  installation: ns.installation,
  runDir: ns.runDir,
  logger: silent,
  upstreamBudgets: { api: 1_000_000 },
  poolSize: 4,
  maxConnections: 64,
  dialsPerSecond: 100,
  refreshIntervalMs: 60_000,
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
});

function get(options: RequestOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ ...options, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function tunnelGet(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    let seen = '';
    let opened = false;
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!opened && seen.includes('\r\n\r\n')) {
        opened = true;
        seen = '';
        socket.write(`GET / HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
      }
    });
    socket.on('close', () => (seen.includes('hello from bench') ? resolve() : reject(new Error(seen))));
    socket.on('error', reject);
  });
}

try {
  await gateway.refresh();
  const paths: [string, () => Promise<void>][] = [
    ['direct GET (new connection)', () => get({ host: '127.0.0.1', port: upstream.port, path: '/' })],
    [
      'proxied GET, absolute-form (new connection)',
      () => get({ host: '127.0.0.1', port, path: `http://${target}/` }),
    ],
    ['proxied CONNECT tunnel + GET (new connection)', tunnelGet],
  ];
  for (const [label, fn] of paths) {
    await timed(50, fn); // warm-up
    printFigures(label, await timed(calls, fn), { digits: 2 });
  }
} finally {
  await gateway.close();
  await bridge.close();
  await upstream.close();
  redis.disconnect();
  await ns.cleanup();
}
