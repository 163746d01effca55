// The soak's own processes (test/bench/soak.ts): router processes and the supervisor, each a
// separate Node process on the stack's installation, so that each one's memory is its own figure.
// Their logs (pino, on stdout) go to files when a log directory is given: the causes of refusals
// under load are in them.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { REDIS_URL, RUNTIME_IMAGE } from '../support/namespace.ts';
import { scrape, total } from '../support/prometheus-text.ts';
import { freePort, type TestStack } from '../support/stack.ts';

export interface SoakProcessOptions {
  /** Each process's log (level `warn`) goes to `<logDir>/<name>.log`; none: discarded. */
  logDir?: string | undefined;
  /** Each process writes a heap snapshot here on SIGUSR2 (diagnosis only: a snapshot stalls it). */
  heapDir?: string | undefined;
}

export interface SoakProcess {
  name: string;
  child: ChildProcess;
}

const PROBE = new URL('./soak-probe.ts', import.meta.url).href;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function start(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  options: SoakProcessOptions,
): SoakProcess {
  const { heapDir, logDir } = options;
  const flags = heapDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`] : [];
  const child = spawn(process.execPath, [...flags, '--expose-gc', '--import', PROBE, entry], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', logDir ? 'pipe' : 'ignore', 'inherit', 'ipc'],
  });
  child.channel?.unref();
  if (logDir) child.stdout?.pipe(createWriteStream(join(logDir, `${name}.log`)));
  return { name, child };
}

/** A router process of the stack's installation on its own port (the audience stays the stack's). */
export async function spawnRouter(
  stack: TestStack,
  name: string,
  options: SoakProcessOptions,
): Promise<SoakProcess & { url: string; metricsUrl: string }> {
  const keys = await ensureCallKeys(join(stack.ns.runDir, 'keys'));
  const port = await freePort();
  const metricsPort = await freePort();
  const router = start(
    name,
    'router/main.ts',
    {
      BULKHEAD_NAMESPACE: stack.ns.namespace,
      BULKHEAD_REDIS_URL: REDIS_URL,
      BULKHEAD_ISSUER: stack.idp.issuer,
      BULKHEAD_RESOURCE_URL: stack.mcpUrl,
      BULKHEAD_ROUTER_PRIVATE_KEY_FILE: keys.privateKeyFile,
      BULKHEAD_ROUTER_PORT: String(port),
      BULKHEAD_ROUTER_METRICS_PORT: String(metricsPort),
      BULKHEAD_TOKEN_ALGORITHMS: 'ES256',
      BULKHEAD_TENANT_CLAIM: 'tenant',
    },
    options,
  );
  const url = `http://127.0.0.1:${port}/mcp`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(url, { method: 'POST' }).then(
      () => true,
      () => false,
    );
    if (up) return { ...router, url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
    await sleep(200);
  }
  router.child.kill('SIGTERM');
  throw new Error('router process did not start');
}

/**
 * Replaces the stack's in-process supervisor with a supervisor process on the same installation
 * (same run directory, keys and image; no idle tiers, as in the stack). `healthIntervalMs` as given.
 */
export async function spawnSupervisor(
  stack: TestStack,
  settings: { healthIntervalMs: number; createLimit: number },
  options: SoakProcessOptions,
): Promise<SoakProcess> {
  const keys = await ensureCallKeys(join(stack.ns.runDir, 'keys'));
  await stack.supervisor.close();
  const supervisor = start(
    'supervisor',
    'supervisor/main.ts',
    {
      BULKHEAD_NAMESPACE: stack.ns.namespace,
      BULKHEAD_REDIS_URL: REDIS_URL,
      BULKHEAD_RUN_DIR: join(stack.ns.runDir, 'run'),
      BULKHEAD_RUNTIME_IMAGE: RUNTIME_IMAGE,
      BULKHEAD_ROUTER_PUBLIC_KEY_FILE: keys.publicKeyFile,
      BULKHEAD_EGRESS_PUBLIC_KEY_FILE: keys.egress.publicKeyFile,
      BULKHEAD_ROUTER_GID: '0',
      BULKHEAD_IDLE_PAUSE_MS: '0',
      BULKHEAD_CREATE_LIMIT: String(settings.createLimit),
      BULKHEAD_HEALTH_INTERVAL_MS: String(settings.healthIntervalMs),
    },
    options,
  );
  // Up once it answers a job (an inspect of a tenant that does not exist).
  await stack.runtimes.inspect('soak-probe');
  return supervisor;
}

/** Stops a process and waits for it to exit. */
export async function stop(process: SoakProcess): Promise<void> {
  if (process.child.exitCode !== null || process.child.signalCode !== null) return;
  const exited = once(process.child, 'exit');
  process.child.kill('SIGTERM');
  await exited;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)}`;

/**
 * A process's memory as `RSS (V8 heap used/heap size, external)` in MiB and its event loop's delay since the
 * last sample, asked of its probe (soak-probe.ts; `gc`: after a full garbage collection); this
 * process's own memory without one; `gone` once it has exited.
 */
export async function memoryOf(
  process: SoakProcess | undefined,
  ask: 'memory' | 'gc' = 'memory',
): Promise<string> {
  const usage: Partial<Probed> | undefined = process
    ? await probe(process, ask)
    : globalThis.process.memoryUsage();
  if (!usage) return 'gone';
  const heap = `${mib(usage.heapUsed ?? 0)}/${mib(usage.heapTotal ?? 0)}`;
  const memory = `${mib(usage.rss ?? 0)} (${heap}, ext ${mib(usage.external ?? 0)}) MiB`;
  const { lag } = usage;
  return lag ? `${memory} lag p99/max ${ms(lag.p99)}/${ms(lag.max)}` : memory;
}

type Probed = NodeJS.MemoryUsage & { lag: { p99: number; max: number } };

const ms = (n: number): string => `${n.toFixed(0)} ms`;

async function probe(process: SoakProcess, ask: 'memory' | 'gc'): Promise<Probed | undefined> {
  const { child } = process;
  if (!child.connected) return undefined;
  const answer = once(child, 'message') as Promise<[Probed]>;
  child.send(ask);
  const timeout = sleep(10_000).then(() => undefined);
  return (await Promise.race([answer, timeout]))?.[0];
}

/** A router's `bulkhead_audit_unconfirmed_total` (audit records logged in full), read from its /metrics. */
export async function auditUnconfirmed(router: { metricsUrl: string }): Promise<number> {
  return total(await scrape(router.metricsUrl), 'bulkhead_audit_unconfirmed_total');
}
