// Helpers of the egress tests: loopback upstreams that record what reaches them, and proxy clients
// run inside a tenant's container as its UID (`docker exec` runs as the container's user).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chownSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type RequestOptions, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startEgressGateway, type RunningEgressGateway } from '../../egress/gateway.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { installation, type Installation } from '../../kernel/tenant/installation.ts';
import { PLANS, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { DEFAULT_EGRESS_PORT, EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import { tenantSocketDir } from '../../kernel/wire/runtime-endpoint.ts';
import { startEgressBridge } from '../../runtime-image/src/egress-bridge.ts';
import { execIn, REDIS_URL, testNamespace, type TestNamespace } from './namespace.ts';
import { freePort } from './stack.ts';

const run = promisify(execFile);

export interface Upstream {
  port: number;
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that answers `hello from <name>` and records each request. */
export async function startUpstream(name: string): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${name}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface ProxyAnswer {
  /** The proxy's status for the CONNECT (or the plain request). */
  status: number;
  /** Its body when it refused; for an opened tunnel, the upstream's whole answer through it. */
  body: string;
}

/**
 * Inside the container: CONNECT to `target` through the loopback proxy, then one plain GET through
 * the tunnel (the upstreams speak HTTP; the tunnel carries bytes as they are, as for TLS).
 */
const CONNECT_SCRIPT = `
const net = require('net');
const [port, target] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1', () => s.write('CONNECT ' + target + ' HTTP/1.1\\r\\nHost: ' + target + '\\r\\n\\r\\n'));
let raw = Buffer.alloc(0); let status = 0; let at = -1;
s.on('data', (d) => {
  raw = Buffer.concat([raw, d]);
  if (status === 0 && (at = raw.indexOf('\\r\\n\\r\\n')) >= 0) {
    status = Number(raw.toString('latin1').split(' ')[1]);
    if (status === 200) { raw = raw.subarray(at + 4); s.write('GET /through-tunnel HTTP/1.1\\r\\nHost: ' + target + '\\r\\nConnection: close\\r\\n\\r\\n'); }
    else raw = raw.subarray(at + 4);
  }
});
s.on('error', (e) => { console.log(JSON.stringify({ status: -1, body: String(e) })); process.exit(0); });
s.on('close', () => { console.log(JSON.stringify({ status, body: raw.toString() })); process.exit(0); });
setTimeout(() => { console.log(JSON.stringify({ status: -2, body: 'timeout' })); process.exit(0); }, 10000);
`;

/**
 * An ordinary client: Node's http module honouring HTTP_PROXY (NODE_USE_ENV_PROXY), as a pack's
 * would; for an http:// URL it sends the absolute-form request a proxy can add credentials to.
 */
const GET_SCRIPT = `
const req = require('http').get(process.argv[1], { headers: { authorization: 'Bearer pack-made-this-up' } }, (r) => {
  let body = ''; r.setEncoding('utf8'); r.on('data', (d) => (body += d));
  r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, body })));
});
req.on('error', (e) => console.log(JSON.stringify({ status: -1, body: String(e) })));
`;

function parse(output: string): ProxyAnswer {
  const line = output.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ProxyAnswer;
  } catch {
    return { status: -3, body: output };
  }
}

export async function connectThrough(
  docker: Docker,
  containerId: string,
  target: string,
  port = DEFAULT_EGRESS_PORT,
): Promise<ProxyAnswer> {
  const result = await execIn(docker, containerId, ['node', '-e', CONNECT_SCRIPT, String(port), target]);
  return parse(result.output);
}

/** The same CONNECT from this host, to a bridge running in this process (startLocalEgress). */
export async function connectThroughLocal(port: number, target: string): Promise<ProxyAnswer> {
  const { stdout } = await run(process.execPath, ['-e', CONNECT_SCRIPT, String(port), target]);
  return parse(stdout);
}

export async function getThrough(
  docker: Docker,
  containerId: string,
  url: string,
  port = DEFAULT_EGRESS_PORT,
): Promise<ProxyAnswer> {
  const proxy = `http://127.0.0.1:${port}`;
  const result = await execIn(docker, containerId, [
    'env',
    'NODE_USE_ENV_PROXY=1',
    `HTTP_PROXY=${proxy}`,
    `HTTPS_PROXY=${proxy}`,
    'node',
    '-e',
    GET_SCRIPT,
    url,
  ]);
  return parse(result.output);
}

export interface LocalEgress {
  ns: TestNamespace;
  redis: Redis;
  tenant: TenantRecord;
  gateway: RunningEgressGateway;
  /** The bridge's tenant-wide loopback port. */
  port: number;
  /** Each tenant's bridge's tenant-wide port: `tenant`'s and the `others`'. */
  ports: Record<string, number>;
  close(): Promise<void>;
}

/**
 * The egress path without a container: the bridge runs in this process, its socket handed to the
 * tenant's UID as a container's would be (the caller runs as root), and the gateway dials it like
 * any tenant's, on real Redis under a namespace of its own.
 */
export async function startLocalEgress(options: {
  label: string;
  egress: EgressPolicy;
  /** Further tenants by id, each with a bridge of its own, served by the same gateway. */
  others?: Record<string, EgressPolicy>;
  poolSize?: number;
  maxConnections?: number;
  maxUpstreamSockets?: number;
  dialsPerSecond?: number;
  auditBacklog?: number;
  /** A Redis of the test's own (test/support/private-redis.ts) instead of the shared one. */
  redisUrl?: string;
  /** The bridge's packs (their ports follow the tenant-wide one) and its trace links. */
  packs?: string[];
  linkOf?: (pack: string) => string | undefined;
  tracing?: Tracing;
  /** Serve the gateway's /metrics on a loopback port of its own (`gateway.metricsUrl`). */
  metrics?: boolean;
}): Promise<LocalEgress> {
  const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  const ns = await testNamespace(options.label, options.redisUrl);
  const redis = new Redis(ns.installation.redis);
  const registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  const keys = generateKeyPairSync('ed25519');
  const ports: Record<string, number> = {};
  const bridges: { close(): Promise<void> }[] = [];
  async function bridged(id: string, egress: EgressPolicy): Promise<TenantRecord> {
    const tenant = await registry.create({ id, plan: PLANS.small, isolation: 'runc', egress });
    const dir = tenantSocketDir(ns.runDir, ns.namespace, tenant.id);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const socketPath = join(dir, EGRESS_SOCKET_NAME);
    bridges.push(
      await startEgressBridge({
        socketPath,
        tenantId: tenant.id,
        gatewayKey: keys.publicKey,
        port,
        packs: options.packs ?? [],
        waitMs: 2_000,
        maxIdle: 16,
        logger: silent,
        ...(options.linkOf ? { linkOf: options.linkOf } : {}),
      }),
    );
    chownSync(socketPath, tenant.uid, tenant.uid);
    ports[tenant.id] = port;
    return tenant;
  }
  const tenant = await bridged('local', options.egress);
  for (const [id, egress] of Object.entries(options.others ?? {})) await bridged(id, egress);
  const gateway = await startEgressGateway({
    installation: ns.installation,
    runDir: ns.runDir,
    logger: silent,
    signingKey: keys.privateKey,
    poolSize: options.poolSize ?? 4,
    maxConnections: options.maxConnections ?? 64,
    maxUpstreamSockets: options.maxUpstreamSockets ?? 64,
    dialsPerSecond: options.dialsPerSecond ?? 100,
    auditBacklog: options.auditBacklog ?? 10_000,
    refreshIntervalMs: 60_000,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
    tracing: options.tracing,
    ...(options.metrics ? { metrics: { port: 0, host: '127.0.0.1', tenantLabel: false } } : {}),
  });
  return {
    ns,
    redis,
    tenant,
    gateway,
    port: ports[tenant.id]!,
    ports,
    async close() {
      await gateway.close();
      for (const bridge of bridges) await bridge.close();
      redis.disconnect();
      await ns.cleanup();
    },
  };
}

/** One plain GET through a bridge port, as Node's proxy support sends it, on a new connection. */
export function proxyGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: target, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One GET on a new connection; resolves with the status. */
export function getOnce(options: RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ ...options, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface LocalEgressProcess {
  child: ChildProcess;
  /** Each tenant's bridge's tenant-wide port, as startLocalEgress names them. */
  ports: Record<string, number>;
  /** Its namespace's: where its registry and its tenants' audit trails are in Redis. */
  installation: Installation;
  /**
   * SIGTERM, unless it exited already (a crash or a kill a test is to show), its exit, then what
   * an exit without its own cleanup left: its socket directories and Redis keys.
   */
  stop(): Promise<void>;
}

/**
 * startLocalEgress in a process of its own (test/support/local-egress-main.ts), for a test that
 * needs the gateway where the test process cannot be, or to see it exit. `wrapper` is a command
 * that runs the rest of its arguments (unshare, say). Resolves once its bridges are served.
 */
export async function spawnLocalEgress(
  options: Parameters<typeof startLocalEgress>[0],
  wrapper: string[] = [],
): Promise<LocalEgressProcess> {
  const main = join(import.meta.dirname, 'local-egress-main.ts');
  const command = [...wrapper, process.execPath, main, JSON.stringify(options)];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const [line] = await Promise.race([
    createInterface({ input: child.stdout })
      [Symbol.asyncIterator]()
      .next()
      .then((r) => [r.value]),
    exited.then(() => Promise.reject(new Error(`gateway exited: ${child.exitCode}`))),
  ]);
  const served = JSON.parse(line!) as { ports: Record<string, number>; namespace: string; runDir: string };
  const inst = installation({ namespace: served.namespace, redisUrl: REDIS_URL });
  return {
    child,
    ports: served.ports,
    installation: inst,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      // What a gateway killed (or crashed) left: a stopped one removed it already.
      await rm(served.runDir, { recursive: true, force: true });
      const redis = new Redis(inst.redis);
      const keys = await redis.keys(`${inst.registryPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}
